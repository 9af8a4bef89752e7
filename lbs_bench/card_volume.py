"""`lbs bench cards`: how many staff cards real movement produces - the shared GeoLife trajectories
moved onto the demo city (Beijing's centre onto Nanjing's), replayed fix by fix through the visit
rules the service runs (its default settings) against the demo stores.

Counted per visit: entries (before visits, every entry into the 1 km fence was a card), visits that
reach *approaching* or *arrived* (the cards of `LBS_STAFF_ALERTS=all`: one per visit), and visits
that arrive. Under `intent` (the default) a card needs an order, a coupon, an offer sent in the visit
or a member tier at that store; GeoLife's people hold none of the first two, so their cards come
only from offers, which the promotion caps bound to `per_user_per_day` per person per day - the
figure reported as the intent bound.
"""

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from geo_index.fences import Fix
from geo_index.radius_index import RadiusIndex
from geo_index.visits import Change, Stage, VisitState, track
from lbs_bench.geolife import read_plt, trajectories
from lbs_service.demo import demo_stores
from lbs_service.proximity.decisions import Caps
from lbs_service.settings import Settings

BEIJING_CENTRE = (39.9087, 116.3975)
NANJING_CENTRE = (32.0416, 118.7784)  # Xinjiekou, the demo city's busiest centre


@dataclass
class Tally:
    fixes: int = 0
    hours: float = 0.0
    entries: int = 0
    carded_all: int = 0  # visits reaching approaching or arrived
    arrived: int = 0
    person_days: int = 0


def _demo_index() -> RadiusIndex:
    rows = [row for merchant in demo_stores().values() for row in merchant]
    return RadiusIndex.build(np.arange(1, len(rows) + 1), [r["lat"] for r in rows], [r["lng"] for r in rows])


def replay(geolife: Path) -> tuple[Tally, Counter[int], Counter[int]]:
    """The tally, and per store the entries and the cards (`all`)."""
    rules = Settings().visits.rules
    index = _demo_index()
    shift = (NANJING_CENTRE[0] - BEIJING_CENTRE[0], NANJING_CENTRE[1] - BEIJING_CENTRE[1])
    tally = Tally()
    entries: Counter[int] = Counter()
    cards: Counter[int] = Counter()
    days: set[tuple[str, str]] = set()
    for user, path in trajectories(geolife):
        state = VisitState()
        carded: set[int] = set()  # stores whose current visit has its card
        fixes = read_plt(path)
        if len(fixes) < 2:
            continue
        tally.hours += (fixes[-1].ts - fixes[0].ts).total_seconds() / 3600
        for fix in fixes:
            days.add((user, fix.ts.date().isoformat()))
            step = track(rules, state, Fix(fix.lat + shift[0], fix.lng + shift[1], fix.ts.timestamp(), 10.0),
                         index)
            tally.fixes += 1
            for event in step.events:
                if event.change & (Change.STARTED | Change.RESTARTED):
                    tally.entries += 1
                    entries[event.store_id] += 1
                    carded.discard(event.store_id)
                if event.stage in (Stage.APPROACHING, Stage.ARRIVED) and event.store_id not in carded:
                    carded.add(event.store_id)
                    tally.carded_all += 1
                    cards[event.store_id] += 1
                if event.change & Change.ARRIVED:
                    tally.arrived += 1
    tally.person_days = len(days)
    return tally, entries, cards


def run_cards(geolife: Path) -> dict[str, Any]:
    tally, entries, cards = replay(geolife)
    caps = Caps()
    busiest = max(cards.values(), default=0)
    return {"benchmark": "cards", "fixes": tally.fixes, "person_hours": round(tally.hours, 1),
            "person_days": tally.person_days, "entries": tally.entries, "cards_all": tally.carded_all,
            "arrived": tally.arrived, "intent_bound": caps.per_user_per_day * tally.person_days,
            "stores_entered": len(entries), "stores_carded": len(cards),
            "entries_per_person_hour": tally.entries / tally.hours if tally.hours else 0.0,
            "cards_all_per_person_hour": tally.carded_all / tally.hours if tally.hours else 0.0,
            "busiest_store_entries": max(entries.values(), default=0), "busiest_store_cards_all": busiest}
