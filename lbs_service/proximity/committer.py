"""Group commit: the effects of many users' fixes in one transaction every few milliseconds.

Committing each visit alone costs a disk flush (~0.5 ms): at most ~2,000 a second for the whole
machine. Here effects queue up and a single task commits them together - at most
`commit_interval_s` after the first arrived, at most `commit_batch` at once - then publishes the
messages they produced at once, straight after the commit. The outbox rows are written in that same
transaction, marked "in flight"; if this worker dies between commit and publish, the relay finds
them after a few seconds and publishes them (the streams skip a repeat). So a crash neither loses a
committed alert nor doubles one.

What gets a message is decided by what the database changed (visit_store.py): a start or a stage
change that found nothing to change is silent.
"""

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from geo_index.visits import Change, Stage
from lbs_service import metrics
from lbs_service.clock import Clock
from lbs_service.o2o.pseudonyms import user_ref
from lbs_service.outbox.pushes import Notice, offer_notice
from lbs_service.outbox.relay import mark_relayed
from lbs_service.proximity.effects import FixEffects, Promotion, StageChange
from lbs_service.proximity.visit_store import Applied, Rows, writer_for
from lbs_service.storage.db import Database
from push.hub import Hub
from push.messages import store_channel, user_channel

log = logging.getLogger(__name__)
# Told about every batch that leaves the queue: committed (with what was published), or given up.
Settled = Callable[[list[FixEffects], bool, list["Outgoing"], list[int | None]], Awaitable[None]]
RETRY_FOR_S = 60.0  # effects a socket sent are retried this long while the database is away


@dataclass(frozen=True)
class Outgoing:
    row_id: int
    channel: str
    payload: dict[str, Any]


class GroupCommitter:
    """Commits many users' visit effects in one transaction, then publishes what they caused."""

    def __init__(self, db: Database, hub: Hub, secret: str, clock: Clock, interval_s: float, max_batch: int,
                 settled: Settled | None = None) -> None:
        self.db, self.hub, self.secret, self.clock = db, hub, secret, clock
        self.interval_s, self.max_batch = interval_s, max_batch
        self.settled = settled
        self._queue: deque[FixEffects] = deque()
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._relayed: list[tuple[int, int | None]] = []  # published last round: marked in the next commit
        self._writer = writer_for(db)

    def submit(self, effects: FixEffects) -> None:
        self._queue.append(effects)
        self._wake.set()

    @property
    def backlog(self) -> int:
        return len(self._queue)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        """Commit what is queued, then stop (not a cancel: a commit runs in a thread)."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
        self._writer.close()

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            if not self._queue:
                if self._stopping:
                    break
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), 1.0)
                if not self._queue:
                    await self._flush_marks()
                    continue
            await asyncio.sleep(self.interval_s)  # let others join this transaction
            batch = self._take()
            try:
                await self._round(batch)
                backoff = 0.1
            except Exception as error:  # the database blinked: nothing of this batch is committed
                await self._retry_or_give_up(batch, error)
                if self._stopping:
                    break
                await asyncio.sleep(backoff)
                backoff = min(2.0, backoff * 2)
        await self._flush_marks()

    async def _retry_or_give_up(self, batch: list[FixEffects], error: Exception) -> None:
        """A caller that waits hears of the failure (and retries itself); a socket's effects go back to
        the front of the queue until they are RETRY_FOR_S old."""
        now = time.perf_counter()
        retry = [e for e in batch if e.done is None and now - e.received < RETRY_FOR_S]
        kept = {id(e) for e in retry}
        given_up = [e for e in batch if id(e) not in kept]
        for effects in given_up:
            if effects.done is not None and not effects.done.done():
                effects.done.set_exception(error)
        self._queue.extendleft(reversed(retry))
        dropped = sum(1 for e in given_up if e.done is None)
        log.warning("group commit failed (%s): %d retried, %d given up%s", type(error).__name__, len(retry),
                    len(given_up), f" ({dropped} from sockets, lost)" if dropped else "")
        if given_up and self.settled is not None:
            await self.settled(given_up, False, [], [])

    def _take(self) -> list[FixEffects]:
        batch: list[FixEffects] = []
        size = 0
        while self._queue and size < self.max_batch:
            effects = self._queue.popleft()
            batch.append(effects)
            size += max(1, len(effects))
        return batch

    async def _round(self, batch: list[FixEffects]) -> None:
        started = time.perf_counter()
        marks, self._relayed = self._relayed, []
        try:
            outgoing = await asyncio.to_thread(self._commit, batch, marks)
        except BaseException:
            self._relayed = marks + self._relayed  # not marked: try again next time
            raise
        metrics.observe("lbs_group_commit_seconds", time.perf_counter() - started)
        metrics.observe("lbs_group_commit_effects", sum(len(e) for e in batch))
        ids: list[int | None] = [None] * len(outgoing)
        if outgoing:
            try:
                ids = await self.hub.publish_many([(o.channel, o.payload, o.row_id) for o in outgoing])
                self._relayed += [(o.row_id, i) for o, i in zip(outgoing, ids, strict=True)]
            except Exception as error:  # Redis away: the relay publishes them once they are overdue
                log.warning("publishing after commit failed (%s): the relay takes over", type(error).__name__)
        for effects in batch:
            if effects.done is not None and not effects.done.done():
                effects.done.set_result(None)
        if self.settled is not None:
            with contextlib.suppress(Exception):  # committed is committed: a failing listener changes nothing
                await self.settled(batch, True, outgoing, ids)

    async def _flush_marks(self) -> None:
        if self._relayed:
            marks, self._relayed = self._relayed, []
            try:
                await asyncio.to_thread(self._mark, marks)
            except Exception:
                self._relayed = marks + self._relayed

    def _mark(self, marks: list[tuple[int, int | None]]) -> None:
        with self.db.engine.connect() as connection:
            mark_relayed(connection, marks, self.clock())

    def _commit(self, batch: list[FixEffects], marks: list[tuple[int, int | None]]) -> list[Outgoing]:
        now = self.clock()
        try:
            runs = _untangled([c for e in batch for c in e.changes])
            promotions = [p for e in batch for p in e.promotions]
            applied = self._writer.apply(runs, len(promotions))
            outbox: list[dict[str, Any]] = []
            carded: dict[int, None] = {}  # visit ids carded in this transaction, in order
            events: list[dict[str, Any]] = []
            for run, took in zip(runs, applied, strict=True):
                self._compose(run, took, outbox, carded, events)
                metrics.count("lbs_visit_changes_total", len(took))
            outbox += self._promotion_messages(promotions)
            ids = self._writer.finish(Rows(list(carded), events, _promotion_rows(promotions), outbox, marks,
                                           _promotion_pushes(promotions)), now)
        except BaseException:
            self._writer.abort()
            raise
        return [Outgoing(i, row["channel"], row["payload"]) for i, row in zip(ids, outbox, strict=True)]

    def _compose(self, run: list[StageChange], took: list[Applied], outbox: list[dict[str, Any]],
                 carded: dict[int, None], events: list[dict[str, Any]]) -> None:
        """The messages and member events of the changes the database took, in the order of their fixes.
        A visit carded by an earlier run of this transaction has its card already (the database marks it
        only at the end): its later stages are updates, never a second card."""
        order = {id(change): n for n, change in enumerate(run)}
        for applied in sorted(took, key=lambda a: order[id(a.change)]):
            if not applied.card_sent and applied.visit_id in carded:
                applied = replace(applied, card_sent=True)
            change = applied.change
            message = self._card_message(applied)
            if message is not None:
                outbox.append({"channel": store_channel(change.store_id), "payload": message,
                               "subject": change.user_id})
                if message["type"] == "arrival":
                    carded[applied.visit_id] = None
            if change.change & Change.ARRIVED:
                events.append(_event(change, "visit", {"visit_id": applied.visit_id}))
            if change.change & Change.LEFT and change.dwell_s is not None:
                events.append(_event(change, "visit_end", {"visit_id": applied.visit_id,
                                                           "dwell_s": round(change.dwell_s)}))

    def _card_message(self, applied: Applied) -> dict[str, Any] | None:
        """The card (first message of a carded visit), its update, or nothing."""
        change = applied.change
        common = {"ts": change.at.isoformat(), "store_id": change.store_id, "visit_id": applied.visit_id,
                  "stage": change.stage.name.lower()}
        eta = None if change.eta_s is None else round(change.eta_s)
        if not applied.card_sent and change.card and change.stage in (Stage.APPROACHING, Stage.ARRIVED):
            metrics.count("lbs_arrivals_total")
            return {"type": "arrival", **common, "user_ref": user_ref(self.secret, change.store_id, change.user_id),
                    "distance_m": round(change.distance_m, 1), "eta_s": eta, "context": change.context}
        if applied.card_sent and change.stage in (Stage.ARRIVED, Stage.LEFT):
            dwell = None if change.dwell_s is None else round(change.dwell_s)
            return {"type": "visit", **common, "eta_s": eta, "dwell_s": dwell}
        return None

    @staticmethod
    def _promotion_messages(promotions: list[Promotion]) -> list[dict[str, Any]]:
        if promotions:
            metrics.count("lbs_promotions_sent_total", len(promotions))
        return [{"channel": user_channel(p.user_id), "subject": p.user_id, "payload": {
            "type": "promotion", "ts": p.at.isoformat(), "store_id": p.offer.store.id,
            "store_name": p.offer.store.name, "campaign_id": p.offer.campaign.id, "title": p.offer.campaign.title,
            "distance_m": round(p.offer.distance_m, 1)}} for p in promotions]


def _promotion_rows(promotions: list[Promotion]) -> list[dict[str, Any]]:
    return [{"user_id": p.user_id, "store_id": p.offer.store.id, "campaign_id": p.offer.campaign.id,
             "local_day": p.offer.local_day, "sent_at": p.at} for p in promotions]


def _promotion_pushes(promotions: list[Promotion]) -> list[Notice]:
    return [offer_notice(p.user_id, p.offer.store.id, p.offer.store.name, p.offer.campaign.title, p.offer.distance_m)
            for p in promotions]


def _event(change: StageChange, kind: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"user_id": change.user_id, "store_id": change.store_id, "kind": kind, "data": data, "at": change.at}


def _untangled(changes: list[StageChange]) -> list[list[StageChange]]:
    """Split into consecutive runs in which each (user, store) appears once: a visit that changes twice
    within one batch (it leaves and starts again) is applied in two steps, and the order of everything
    stays the order of the fixes."""
    runs: list[list[StageChange]] = [[]]
    keys: set[tuple[str, int]] = set()
    for change in changes:
        key = (change.user_id, change.store_id)
        if key in keys:
            runs.append([])
            keys = set()
        runs[-1].append(change)
        keys.add(key)
    return [run for run in runs if run]
