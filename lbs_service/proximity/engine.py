"""Fixes in; visits, staff cards, promotions and the demand gauge out.

The worker that holds a user's socket holds the user's visit state in memory (geo_index.visits):
a fix is evaluated there with no round trip. Whatever it causes is decided from the worker's caches
(caches.py, decisions.py) and queued for the group committer (committer.py), which commits many
users' effects together and publishes them at once. The state is checkpointed to the fence store
only after the effects it reflects are committed, so a worker that dies never leaves a checkpoint
ahead of the database (a resumed visit is recognised by the database: visit_store.py).
"""

import asyncio
import contextlib
import heapq
import logging
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from geo_index.fences import Drop, Fix
from geo_index.visits import Change, Stage, VisitEvent, VisitState, track
from lbs_service import metrics
from lbs_service.analytics.demand import DemandRecorder
from lbs_service.catalog import StoreCatalog
from lbs_service.clock import Clock
from lbs_service.o2o.customers import Customer
from lbs_service.proximity.caches import CampaignCache, CustomerCache
from lbs_service.proximity.committer import RETRY_FOR_S, GroupCommitter, Outgoing
from lbs_service.proximity.decisions import Caps, CardRules, Entered, card_context, choose_offer
from lbs_service.proximity.effects import FixEffects, Promotion, StageChange
from lbs_service.proximity.gauge import DemandGauge
from lbs_service.settings import VisitSettings
from push.fence_store import FenceStore, dump_state, snapshot_state
from push.hub import Hub

log = logging.getLogger(__name__)
CHECKPOINT_EVERY_S = 5.0  # of the user's own time, when nothing else made us save
FLUSH_YIELD_EVERY = 25  # checkpoints serialised between two turns of the event loop
ERASE = "erase"
# Resolved once: a labelled lookup per fix costs more than the increment itself.
_FIX_EVAL_SECONDS = metrics.bound("lbs_fence_eval_seconds")
_FIXES_ACCEPTED = metrics.bound("lbs_fixes_total", outcome="accepted")


@dataclass
class FixOutcome:
    dropped: Drop | None = None  # why the fix was not used (None: it was)
    started: list[int] = field(default_factory=list)  # stores whose visit this fix started
    events: list[VisitEvent] = field(default_factory=list)


@dataclass
class LiveUser:
    """A user whose visits this worker tracks: their state, and what their current visits were offered."""

    user_id: str
    state: VisitState
    holders: int = 0  # sockets (and HTTP batches) using it here
    offers: dict[int, dict[str, Any]] = field(default_factory=dict)  # store -> offer sent in the current visit
    in_flight: int = 0  # effects submitted, not yet committed
    saved_ts: float = -1e18  # the user's time of the last checkpoint
    generation: int = 0  # bumped by an erasure: older snapshots must not be saved


class ProximityEngine:
    """Per worker: each user's fixes become visit stages; cards and promotions are decided and committed."""

    def __init__(self, settings: VisitSettings, catalog: StoreCatalog, fences: FenceStore, hub: Hub,
                 committer: GroupCommitter, gauge: DemandGauge, demand: DemandRecorder, customers: CustomerCache,
                 campaigns: CampaignCache, clock: Clock, caps: Caps | None = None) -> None:
        self.settings, self.rules = settings, settings.rules
        self.catalog, self.fences, self.hub = catalog, fences, hub
        self.committer, self.gauge, self.demand = committer, gauge, demand
        self.customers, self.campaigns, self.clock = customers, campaigns, clock
        self.caps = caps or Caps()
        self.cards = CardRules(settings.staff_alerts, settings.alert_min_tier, settings.member_tiers)
        self._live: dict[str, LiveUser] = {}
        # Checkpoints to write at the next flush, serialised then: a user's newer one replaces an older.
        self._saves: dict[str, VisitState] = {}
        self._escalations: list[tuple[float, str, int, int]] = []  # (due, channel, alert id, visit id)
        self._preloads: set[asyncio.Task[None]] = set()
        self._flush_lock = asyncio.Lock()
        self._erased: dict[str, float] = {}  # user -> when erased, for as long as their effects may be retried
        committer.settled = self._settled

    # ---- users coming and going ---------------------------------------------------------------
    async def attach(self, user_id: str) -> LiveUser:
        """Track this user here (their checkpoint, if any); every attach is matched by a detach."""
        live = self._live.get(user_id)
        if live is None:
            state = await self.fences.load(user_id) or VisitState()
            live = self._live.get(user_id)  # another socket of theirs may have attached meanwhile
            if live is None:
                live = self._live[user_id] = LiveUser(user_id, state)
                for store_id, bucket in state.buckets():
                    self.gauge.move(store_id, -1, bucket)
                metrics.add_gauge("lbs_live_users", 1)
        live.holders += 1
        return live

    def preload(self, user_id: str) -> None:
        """Load the customer now, in the background, so their first decision waits for nothing."""
        if self.customers.peek(user_id) is None:
            task = asyncio.get_running_loop().create_task(self._preload(user_id))
            self._preloads.add(task)
            task.add_done_callback(self._preloads.discard)

    async def _preload(self, user_id: str) -> None:
        try:
            await self.customers.get(user_id, self.clock())
        except Exception as error:  # the first decision loads it again
            log.debug("customer preload failed (%s)", type(error).__name__)

    async def detach(self, user_id: str, keep: bool = True) -> None:
        """The last holder gone: wait for its effects, leave an exact checkpoint, keep no memory.
        keep=False: what this holder did was not recorded, so nothing of it is kept (no checkpoint)."""
        live = self._live.get(user_id)
        if live is None:
            return
        live.holders -= 1
        if not keep:
            live.generation += 1  # snapshots taken meanwhile must not be saved either
        if live.holders > 0:
            return
        for _ in range(200):  # its last effects are being committed: the checkpoint must not run ahead
            if live.in_flight == 0:
                break
            await asyncio.sleep(0.01)
        if live.holders > 0:
            return  # a new socket of theirs arrived meanwhile
        del self._live[user_id]
        metrics.add_gauge("lbs_live_users", -1)
        for store_id, bucket in live.state.buckets():
            self.gauge.move(store_id, bucket, -1)
        if not keep:
            self._saves.pop(user_id, None)
            return
        async with self._flush_lock:  # a flush holding an older checkpoint of theirs writes it first
            self._saves.pop(user_id, None)  # (or, failed, puts it back: it is dropped here)
            await self.fences.save(user_id, dump_state(live.state))

    # ---- fixes --------------------------------------------------------------------------------
    async def process(self, user_id: str, fixes: list[Fix], wait: bool = False) -> list[FixOutcome]:
        """Advance the user's visits by these fixes (in order) and queue what they cause; with `wait`,
        return only once it is committed (HTTP batches answer for what they recorded)."""
        live = self._live[user_id]
        outcomes: list[FixOutcome] = []
        effects = FixEffects(user_id)
        for fix in fixes:
            outcome = self._evaluate(live, fix)
            outcomes.append(outcome)
            if outcome.events:
                await self._decide(live, fix, outcome, effects)
        if len(effects):
            effects.checkpoint = snapshot_state(live.state)
            self._submit(live, effects, wait)
            if effects.done is not None:
                await effects.done
        elif live.in_flight == 0 and live.state.last is not None and (
                live.state.last.ts - live.saved_ts >= CHECKPOINT_EVERY_S):
            self._saves[user_id] = snapshot_state(live.state)
            live.saved_ts = live.state.last.ts
        return outcomes

    def _evaluate(self, live: LiveUser, fix: Fix) -> FixOutcome:
        started = time.perf_counter()
        result = track(self.rules, live.state, fix, self.catalog.index)
        _FIX_EVAL_SECONDS.observe(time.perf_counter() - started)
        if result.dropped is not None:
            metrics.count("lbs_fixes_total", outcome=f"dropped_{result.dropped}")
            return FixOutcome(dropped=result.dropped)
        _FIXES_ACCEPTED.inc()
        for store_id, old, new in result.buckets:
            self.gauge.move(store_id, old, new)
        self.demand.saw(live.user_id, fix.lat, fix.lng, datetime.fromtimestamp(fix.ts, UTC))
        return FixOutcome(started=[e.store_id for e in result.events if e.change & Change.STARTED],
                          events=result.events)

    async def _decide(self, live: LiveUser, fix: Fix, outcome: FixOutcome, effects: FixEffects) -> None:
        at = datetime.fromtimestamp(fix.ts, UTC)
        customer = await self.customers.get(live.user_id, at)
        records = self.catalog.records
        entered = [Entered(records[e.store_id], e.distance_m) for e in outcome.events
                   if e.change & (Change.STARTED | Change.RESTARTED) and e.store_id in records]
        for e in outcome.events:
            if e.change & (Change.STARTED | Change.RESTARTED):
                live.offers.pop(e.store_id, None)  # a new visit: no offer sent in it yet
        offer, suppressed = choose_offer(customer, entered, at, self.caps, self.campaigns.running,
                                         self.catalog.district_of)
        for _, reason in suppressed:
            metrics.count("lbs_promotions_suppressed_total", reason=str(reason))
        if offer is not None:
            customer.sent_on(offer.local_day)[offer.store.id] += 1
            live.offers[offer.store.id] = {"campaign_id": offer.campaign.id, "title": offer.campaign.title}
            effects.promotions.append(Promotion(live.user_id, offer, at))
        for event in outcome.events:
            change = self._stage_change(live, customer, event, at)
            if change is not None:
                effects.changes.append(change)
            if event.change & (Change.LEFT | Change.FORGOTTEN):
                live.offers.pop(event.store_id, None)

    def _stage_change(self, live: LiveUser, customer: Customer, event: VisitEvent, at: datetime
                      ) -> StageChange | None:
        if event.change == Change.FORGOTTEN:
            return None  # the visit had already ended: nothing for the database
        store = self.catalog.records.get(event.store_id)
        if store is None:
            return None
        card, context = False, dict[str, Any]()
        if event.stage in (Stage.APPROACHING, Stage.ARRIVED) or event.change & Change.LEFT:
            card, context = card_context(customer, store, self.catalog.district_of(store),
                                         live.offers.get(store.id), at, self.cards)
        stage = Stage.LEFT if event.change & Change.LEFT else event.stage
        return StageChange(live.user_id, store.id, event.change, stage, at, event.distance_m, event.eta_s,
                           event.dwell_s, card, context)

    def _submit(self, live: LiveUser, effects: FixEffects, wait: bool) -> None:
        live.in_flight += 1
        if wait:
            effects.done = asyncio.get_running_loop().create_future()
        effects.generation, effects.received = live.generation, time.perf_counter()
        self.committer.submit(effects)
        metrics.set_gauge("lbs_group_commit_backlog", self.committer.backlog)

    async def _settled(self, batch: list[FixEffects], committed: bool, outgoing: list[Outgoing],
                       ids: list[int | None]) -> None:
        """After a group commit: owe the users in it a checkpoint, time the cards, schedule escalations.
        (Given up: only the count of effects in flight goes down.)

        The checkpoints owed are written every half second (run_background), a user's newest one only:
        written after every commit, a user walking past stores was serialised five times a second,
        a quarter of the event loop's work at 2,000 fixes/s (profiled). A checkpoint is still never
        ahead of the database, and a worker lost meanwhile resumes from an older one, whose replayed
        stages the database recognises (visit_store.py)."""
        now = time.perf_counter()
        for effects in batch:
            live = self._live.get(effects.user_id)
            if live is not None:
                live.in_flight -= 1
            if not committed:
                continue
            if live is not None:
                if effects.checkpoint is not None and effects.generation == live.generation:
                    self._saves[effects.user_id] = effects.checkpoint
                    if live.state.last is not None:
                        live.saved_ts = live.state.last.ts
            elif effects.checkpoint is not None and effects.received > self._erased.get(effects.user_id, -math.inf):
                self._saves[effects.user_id] = effects.checkpoint  # (not a state from before their erasure)
            if any(c.card for c in effects.changes):
                metrics.observe("lbs_fix_to_alert_seconds", now - effects.received)
            self._count_visits(effects)
        due = time.monotonic() + self.settings.alert_escalate_s
        for message, alert_id in zip(outgoing, ids, strict=True):
            if alert_id is not None and message.payload.get("type") == "arrival":
                heapq.heappush(self._escalations, (due, message.channel, alert_id, message.payload["visit_id"]))

    def _count_visits(self, effects: FixEffects) -> None:
        """Committed arrivals are real visits: the member this worker holds counts them at once (tiers,
        audiences of "visited ..."), as a reload from the event log would."""
        for change in effects.changes:
            if not change.change & Change.ARRIVED:
                continue
            customer = self.customers.peek(effects.user_id)
            store = self.catalog.records.get(change.store_id)
            if customer is not None and store is not None:
                customer.facts = customer.facts.with_visit(store.merchant_id, store.category, store.id, change.at,
                                                           self.cards.thresholds)

    async def close(self) -> None:
        """At shutdown, after the committer: every checkpoint owed is written (if Redis answers)."""
        with contextlib.suppress(Exception):
            await self.flush_checkpoints()

    async def flush_checkpoints(self) -> None:
        """Write the checkpoints owed. One flush at a time: a failed one puts its checkpoints back
        under any newer ones, and no other flush can have written a newer one meanwhile."""
        async with self._flush_lock:
            saves, self._saves = self._saves, {}
            if not saves:
                return
            started = time.perf_counter()

            def kept(user: str) -> bool:  # not erased while this flush ran: nothing of theirs is written
                return self._erased.get(user, -math.inf) < started

            try:
                written: dict[str, bytes] = {}
                for n, (user, state) in enumerate(saves.items(), 1):
                    written[user] = dump_state(state)
                    if n % FLUSH_YIELD_EVERY == 0:
                        await asyncio.sleep(0)  # the sockets' turn: a flush of every user must not stall them
                await self.fences.save_many({user: raw for user, raw in written.items() if kept(user)})
            except BaseException:  # Redis away, or cancelled mid-save: keep them for the next flush
                self._saves = {**{u: v for u, v in saves.items() if kept(u)}, **self._saves}
                raise

    # ---- escalation ---------------------------------------------------------------------------
    async def escalate_due(self) -> int:
        """Raise again every card that nobody acknowledged in time (once per card)."""
        raised = 0
        now = time.monotonic()
        while self._escalations and self._escalations[0][0] <= now:
            _, channel, alert_id, visit_id = heapq.heappop(self._escalations)
            if await self.hub.acked(channel, alert_id):
                continue
            await self.hub.publish(channel, {"type": "escalate", "alert_id": alert_id, "visit_id": visit_id,
                                             "ts": self.clock().isoformat()})
            metrics.count("lbs_escalations_total")
            raised += 1
        return raised

    async def run_background(self) -> None:
        """Checkpoints and escalations, every half second."""
        while True:
            await asyncio.sleep(0.5)
            try:
                await self.flush_checkpoints()
                await self.escalate_due()
            except Exception as error:
                log.warning("proximity housekeeping skipped (%s)", type(error).__name__)

    # ---- erasure ------------------------------------------------------------------------------
    async def on_control(self, message: dict[str, Any]) -> None:
        if message.get("kind") == ERASE and isinstance(message.get("user_id"), str):
            self.forget(str(message["user_id"]))

    def forget(self, user_id: str) -> None:
        """Erase what this worker holds of the user: live visits (a fresh state from now on), what is
        waiting to be checkpointed, buffered demand. What their sockets send after this is new data."""
        live = self._live.get(user_id)
        if live is not None:
            for store_id, bucket in live.state.buckets():
                self.gauge.move(store_id, bucket, -1)
            live.state, live.offers = VisitState(), {}
            live.generation += 1
            live.saved_ts = -1e18
        self._saves.pop(user_id, None)
        now = time.perf_counter()  # effects still being committed, and a flush running, must not save older states
        self._erased = {user: at for user, at in self._erased.items() if now - at < RETRY_FOR_S}
        self._erased[user_id] = now
        self.demand.forget(user_id)
        self.customers.drop(user_id)
