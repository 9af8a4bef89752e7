"""Outlet performance for the planner's layers: per store in an area, the visits (arrivals), coupon
redemptions and orders of one completed calendar week (ISO, UTC), from the member event log.

A figure is shown only when at least k distinct people make it up (LBS_DEMAND_MIN_USERS): a store
with two visitors reports "fewer than k", never two. Weeks never overlap and only completed ones
are reported, so no two answers can be subtracted to reveal the few people k hides (a sliding
"last N days" window could: 21 days against 30, or today against yesterday). The area is bounded
(MAX_STORES) before any counting, a week's events are few, and the count is one grouped query over
an index on (store_id, at).
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import distinct, func, select

from lbs_service.catalog import StoreCatalog
from lbs_service.errors import InvalidInput
from lbs_service.responses import StorePerformance
from lbs_service.storage.db import Database
from lbs_service.storage.models import MemberEvent

MAX_STORES = 5_000
KINDS = {"visit": "visits", "redeem": "redemptions", "order": "orders"}  # member event kind -> figure


WEEK_PATTERN = r"^[0-9]{4}-W[0-9]{2}$"


@dataclass(frozen=True)
class PerformanceAsk:
    bbox: tuple[float, float, float, float]  # min lng, min lat, max lng, max lat
    week_start: datetime  # a Monday, 00:00 UTC
    min_users: int
    merchant_id: int | None
    categories: tuple[str, ...]


def week_start(week: str | None, now: datetime) -> datetime:
    """The Monday 00:00 UTC that starts ISO week `week` (YYYY-Www), or the last completed week; a week
    not yet over is refused (its figures would still grow, one person at a time)."""
    this_week = (now.astimezone(UTC) - timedelta(days=now.astimezone(UTC).weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0)
    if week is None:
        return this_week - timedelta(days=7)
    if not re.fullmatch(WEEK_PATTERN, week):
        raise InvalidInput("week is YYYY-Www, e.g. 2026-W47")
    try:
        start = datetime.fromisocalendar(int(week[:4]), int(week[6:]), 1).replace(tzinfo=UTC)
    except ValueError:
        raise InvalidInput(f"{week} is not a week of the ISO calendar") from None
    if start >= this_week:
        raise InvalidInput(f"{week} is not over yet: only completed weeks are reported")
    return start


def iso_week(start: datetime) -> str:
    year, number, _ = start.isocalendar()
    return f"{year}-W{number:02d}"


def store_performance(db: Database, catalog: StoreCatalog, ask: PerformanceAsk) -> list[StorePerformance]:
    min_lng, min_lat, max_lng, max_lat = ask.bbox
    if not (min_lng < max_lng and min_lat < max_lat):
        raise InvalidInput("bbox is min_lng,min_lat,max_lng,max_lat with min < max")
    stores = [r for r in catalog.snapshot()
              if min_lat <= r.lat <= max_lat and min_lng <= r.lng <= max_lng
              and (ask.merchant_id is None or r.merchant_id == ask.merchant_id)
              and (not ask.categories or r.category in ask.categories)]
    if len(stores) > MAX_STORES:
        raise InvalidInput(f"{len(stores):,} stores in this area: zoom in or filter (at most {MAX_STORES:,})")
    counts: dict[tuple[int, str], tuple[int, int]] = {}
    ids = [r.id for r in stores]
    with db.session() as session:
        for begin in range(0, len(ids), 1000):
            rows = session.execute(
                select(MemberEvent.store_id, MemberEvent.kind, func.count(), func.count(distinct(MemberEvent.user_id)))
                .where(MemberEvent.store_id.in_(ids[begin:begin + 1000]), MemberEvent.kind.in_(list(KINDS)),
                       MemberEvent.at >= ask.week_start, MemberEvent.at < ask.week_start + timedelta(days=7))
                .group_by(MemberEvent.store_id, MemberEvent.kind))
            counts.update({(int(store or 0), kind): (int(events), int(people)) for store, kind, events, people in rows})

    def shown(store_id: int, kind: str) -> int | None:
        events, people = counts.get((store_id, kind), (0, 0))
        return events if people >= ask.min_users or events == 0 else None

    return [StorePerformance(store_id=r.id, name=r.name, category=r.category, merchant_id=r.merchant_id,
                             lat=r.lat, lng=r.lng, **{figure: shown(r.id, kind) for kind, figure in KINDS.items()})
            for r in sorted(stores, key=lambda r: r.id)]
