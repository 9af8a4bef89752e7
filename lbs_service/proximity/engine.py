"""Fixes in, arrivals and promotions out.

Fences are evaluated in this worker from its in-memory index (no round trip per fix); only a
fix that enters a fence touches the database: one transaction records the arrival alerts, the
promotion decision and its effects, and their outbox rows. The user's fence state is then
checkpointed so a reconnect on another worker resumes it.
"""

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from geo_index.fences import Enter, FenceConfig, Fix, UserFences, eta_s, step
from lbs_service import metrics
from lbs_service.analytics.demand import DemandRecorder
from lbs_service.catalog import StoreCatalog
from lbs_service.o2o.members import arrival_contexts, record_event
from lbs_service.proximity.arrival_keys import first_arrivals
from lbs_service.proximity.context import user_ref
from lbs_service.proximity.outbox import OutboxRelay, enqueue
from lbs_service.proximity.rules import Caps, Entered, choose_offer
from lbs_service.records import StoreRecord
from lbs_service.settings import Settings
from lbs_service.storage.db import Database
from lbs_service.storage.models import PromotionSent
from push.fence_store import FenceStore
from push.messages import store_channel, user_channel

_CHECKPOINT_EVERY_S = 5.0


@dataclass(frozen=True)
class Arrival:
    store: StoreRecord
    distance_m: float
    eta_s: float | None


@dataclass
class FixOutcome:
    dropped: str | None = None
    arrivals: list[int] = field(default_factory=list)


def fence_config(settings: Settings) -> FenceConfig:
    return FenceConfig(
        radius_m=settings.fence_radius_m,
        exit_radius_m=settings.exit_radius_m,
        dwell_s=settings.fence_dwell_s,
        max_accuracy_m=settings.fence_max_accuracy_m,
        max_speed_mps=settings.fence_max_speed_mps,
    )


class ProximityEngine:
    def __init__(self, settings: Settings, db: Database, catalog: StoreCatalog, fences: FenceStore,
                 relay: OutboxRelay, demand: DemandRecorder, caps: Caps | None = None) -> None:
        self.settings = settings
        self.config = fence_config(settings)
        self.db = db
        self.catalog = catalog
        self.fences = fences
        self.relay = relay
        self.demand = demand
        self.caps = caps or Caps()
        self._checkpointed: dict[str, float] = {}  # user -> ts of the last fix checkpointed, for live users

    async def load_state(self, user_id: str) -> UserFences:
        return await self.fences.load(user_id) or UserFences()

    async def process(self, user_id: str, state: UserFences, fixes: list[Fix]) -> list[FixOutcome]:
        """Advance the user's fences by these fixes (in order), record what they caused, checkpoint."""
        outcomes: list[FixOutcome] = []
        entered: list[tuple[Fix, list[Arrival]]] = []
        fences_before = (frozenset(state.inside), frozenset(state.pending))
        for fix in fixes:
            started = time.perf_counter()
            outcome, arrivals = self._evaluate(state, fix)
            metrics.observe("lbs_fence_eval_seconds", time.perf_counter() - started)
            if outcome.dropped is None:
                self.demand.saw(user_id, fix.lat, fix.lng, datetime.fromtimestamp(fix.ts, UTC))
            outcomes.append(outcome)
            if arrivals:
                entered.append((fix, arrivals))
        if entered:
            await asyncio.to_thread(self._record, user_id, entered)
            self.relay.wake()
        await self._checkpoint(user_id, state, fences_before)
        return outcomes

    async def _checkpoint(self, user_id: str, state: UserFences, before: tuple[frozenset[int], ...]) -> None:
        """Save when a fence changed, else at most every few seconds of the user's time.

        A reconnect elsewhere then resumes with the right fences; at worst the last few seconds
        of the out-of-order and speed filters' memory are older, which they tolerate.
        """
        last_ts = state.last.ts if state.last else 0.0
        changed = (frozenset(state.inside), frozenset(state.pending)) != before
        if changed or last_ts - self._checkpointed.get(user_id, float("-inf")) >= _CHECKPOINT_EVERY_S:
            await self.fences.save(user_id, state)
            self._checkpointed[user_id] = last_ts

    async def release(self, user_id: str, state: UserFences) -> None:
        """The user's socket closed here: leave an exact checkpoint for the next worker."""
        await self.fences.save(user_id, state)
        self._checkpointed.pop(user_id, None)

    def _evaluate(self, state: UserFences, fix: Fix) -> tuple[FixOutcome, list[Arrival]]:
        hits = self.catalog.index.nearby(fix.lat, fix.lng, self.config.exit_radius_m)
        result = step(self.config, state, fix, zip(hits.ids.tolist(), hits.distances_m.tolist(), strict=True))
        if result.dropped is not None:
            metrics.count("lbs_fixes_total", outcome=f"dropped_{result.dropped}")
            return FixOutcome(dropped=str(result.dropped)), []
        metrics.count("lbs_fixes_total", outcome="accepted")
        arrivals = []
        for event in result.events:
            record = self.catalog.records.get(event.store_id) if isinstance(event, Enter) else None
            if isinstance(event, Enter) and record is not None:
                arrivals.append(Arrival(record, event.distance_m, eta_s(state, record.lat, record.lng,
                                                                        event.distance_m)))
        return FixOutcome(arrivals=[a.store.id for a in arrivals]), arrivals

    def _record(self, user_id: str, entered: list[tuple[Fix, list[Arrival]]]) -> None:
        with self.db.transaction() as session:
            for fix, entering in entered:
                arrivals = first_arrivals(session, self.db.is_postgres, user_id, fix.ts, entering)
                if not arrivals:
                    continue  # this very fix was recorded before (a retry after a partial failure)
                at = datetime.fromtimestamp(fix.ts, UTC)
                contexts = arrival_contexts(session, user_id, [a.store for a in arrivals], self.settings.member_tiers,
                                            self.catalog.district_of)
                for arrival in arrivals:
                    alert = self._alert(user_id, arrival, at, contexts[arrival.store.id])
                    enqueue(session, store_channel(arrival.store.id), alert)
                    record_event(session, user_id, "arrival", arrival.store.id,
                                 {"distance_m": round(arrival.distance_m)})
                metrics.count("lbs_arrivals_total", len(arrivals))
                offer, suppressed = choose_offer(
                    session, user_id, [Entered(a.store, a.distance_m) for a in arrivals], at, self.caps,
                    self.catalog.district_of)
                for _, reason in suppressed:
                    metrics.count("lbs_promotions_suppressed_total", reason=str(reason))
                if offer is None:
                    continue
                session.add(PromotionSent(user_id=user_id, store_id=offer.store.id, campaign_id=offer.campaign.id,
                                          local_day=offer.local_day))
                enqueue(session, user_channel(user_id), {
                    "type": "promotion", "ts": at.isoformat(), "store_id": offer.store.id,
                    "store_name": offer.store.name, "campaign_id": offer.campaign.id, "title": offer.campaign.title,
                    "distance_m": round(offer.distance_m, 1)})
                metrics.count("lbs_promotions_sent_total")

    def _alert(self, user_id: str, arrival: Arrival, at: datetime, context: dict[str, Any]) -> dict[str, Any]:
        """The staff alert: who (a pseudonym), how far, how soon. Never where the customer is."""
        return {
            "type": "arrival",
            "ts": at.isoformat(),
            "store_id": arrival.store.id,
            "user_ref": user_ref(self.settings.secret_key, arrival.store.id, user_id),
            "distance_m": round(arrival.distance_m, 1),
            "eta_s": None if arrival.eta_s is None else round(arrival.eta_s),
            "context": context,
        }
