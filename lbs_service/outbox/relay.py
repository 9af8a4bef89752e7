"""The outbox relay: moves committed messages from the database to the channel streams.

One relay at a time per database (a PostgreSQL advisory lock held from claim to mark), taking
rows in id order. A crash between publishing and marking a row is harmless: the stream remembers
the outbox ids it took per channel and skips a repeat. The relay wakes when a transaction that
wrote to the outbox commits, and polls as a safety net.

Rows the group committer writes are published by the committer itself right after its commit, and
are written "in flight" (relayed_at = IN_FLIGHT) so the relay leaves them alone - unless they are
still in flight after IN_FLIGHT_GRACE_S by the database's clock: then that worker died between
commit and publish, and the relay publishes them. Relayed rows are kept for a while (their stream
ids let an erasure reach the streams) and then pruned.
"""

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, bindparam, delete, exists, func, select, text, update

from lbs_service import metrics
from lbs_service.clock import Clock
from lbs_service.outbox.wake import CommitWake
from lbs_service.outbox.writer import WROTE_OUTBOX
from lbs_service.storage.db import Database
from lbs_service.storage.models import OutboxMessage
from lbs_service.storage.watch import Watch
from push.hub import Hub

log = logging.getLogger(__name__)
_RELAY_LOCK = 0x4C4253  # "LBS": the advisory lock key of the relay
_BATCH = 500
_PIPELINE = 100  # messages per Redis round trip
IN_FLIGHT = datetime(1970, 1, 1, tzinfo=UTC)  # relayed_at of rows their committer is publishing
IN_FLIGHT_GRACE_S = 5


class OutboxRelay:
    """Publishes committed outbox rows to the hub, in order, once; woken on commit, polling as a safety net."""

    def __init__(self, db: Database, hub: Hub, clock: Clock, poll_s: float = 0.2) -> None:
        self.db = db
        self.hub = hub
        self.clock = clock
        self.poll_s = poll_s
        self._wake = CommitWake(db, WROTE_OUTBOX)  # a transaction that wrote to the outbox committed
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._probe = select(exists().where(self._to_relay()))  # an idle worker's poll: built once

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        self._wake.bind()
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        """Finish the round in progress, then stop.

        Not a cancel: a round's database work runs in a thread that a cancel cannot stop, and
        closing its connection under it would crash the driver.
        """
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
        self._wake.unbind()

    async def _run(self) -> None:
        watch = Watch(self.db.engine)
        try:
            while not self._stopping:
                woken = await self._wake.wait(self.poll_s)
                if self._stopping:
                    return
                try:
                    # A poll nobody woke asks one cheap question first; a round takes the lock and a
                    # connection from the pool, a dozen statements' work, mostly to find nothing.
                    if woken or await asyncio.to_thread(self._anything_to_relay, watch):
                        while await self.relay_once() == _BATCH:
                            pass
                except Exception:  # the database or Redis blinked: the rows stay and the next round retries
                    log.exception("outbox relay round failed")
        finally:
            await asyncio.to_thread(watch.close)

    async def relay_once(self) -> int:
        """Relay up to one batch, holding the relay lock from claim to mark so channel order holds."""
        connection = await asyncio.to_thread(self.db.engine.connect)
        try:
            if not await asyncio.to_thread(self._lock, connection):
                return 0
            rows = await asyncio.to_thread(self._pending, connection)
            relayed: list[tuple[int, int | None]] = []
            try:
                for begin in range(0, len(rows), _PIPELINE):
                    chunk = rows[begin : begin + _PIPELINE]
                    ids = await self.hub.publish_many([(channel, body, row_id) for row_id, channel, body in chunk])
                    relayed += [(row_id, stream_id) for (row_id, _, _), stream_id in zip(chunk, ids, strict=True)]
            finally:
                await asyncio.to_thread(mark_relayed, connection, relayed, self.clock())
            metrics.count("lbs_outbox_relayed_total", len(relayed))
            return len(rows)
        finally:
            await asyncio.to_thread(self._release, connection)

    def _lock(self, connection: Connection) -> bool:
        if not self.db.is_postgres:
            return True  # the embedded default runs one process
        return bool(connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": _RELAY_LOCK}))

    def _to_relay(self) -> ColumnElement[bool]:
        """Rows nobody published: never taken, or in flight past the grace (their worker died)."""
        abandoned = (OutboxMessage.relayed_at == IN_FLIGHT) & (OutboxMessage.created_at < self._db_now_minus(
            IN_FLIGHT_GRACE_S))
        condition: ColumnElement[bool] = OutboxMessage.relayed_at.is_(None) | abandoned
        return condition

    def _anything_to_relay(self, watch: Watch) -> bool:
        return bool(watch.scalar(self._probe))

    def _pending(self, connection: Connection) -> list[tuple[int, str, dict[str, Any]]]:
        query = select(OutboxMessage.id, OutboxMessage.channel, OutboxMessage.payload)
        query = query.where(self._to_relay()).order_by(OutboxMessage.id).limit(_BATCH)
        rows = [(i, c, p) for i, c, p in connection.execute(query)]
        connection.commit()
        return rows

    def _db_now_minus(self, seconds: int) -> Any:
        """The database's own clock, minus `seconds` (created_at is stamped by the database)."""
        if self.db.is_postgres:
            return func.now() - text(f"interval '{int(seconds)} seconds'")
        return func.strftime("%Y-%m-%d %H:%M:%f", "now", f"-{int(seconds)} seconds")

    def _release(self, connection: Connection) -> None:
        try:
            if self.db.is_postgres:
                connection.execute(text("SELECT pg_advisory_unlock_all()"))
                connection.commit()
        finally:
            connection.close()


def mark_relayed(connection: Connection, relayed: list[tuple[int, int | None]], at: datetime,
                 commit: bool = True) -> None:
    """Stamp rows as relayed with the stream id each got (None: the stream had it already)."""
    if not relayed:
        return
    # A repeat the stream skipped comes back without an id: keep the id the row already has.
    statement = (update(OutboxMessage).where(OutboxMessage.id == bindparam("row"))
                 .values(relayed_at=at, stream_id=func.coalesce(bindparam("sid"), OutboxMessage.stream_id)))
    connection.execute(statement, [{"row": row_id, "sid": stream_id} for row_id, stream_id in relayed])
    if commit:
        connection.commit()


def outbox_backlog(db: Database, now: datetime) -> tuple[int, float]:
    """Messages committed but not yet on the streams, and how long the oldest has waited (s)."""
    with db.session() as session:
        pending, oldest = session.execute(
            select(func.count(), func.min(OutboxMessage.created_at)).where(
                OutboxMessage.relayed_at.is_(None) | (OutboxMessage.relayed_at == IN_FLIGHT))).one()
    lag = 0.0 if oldest is None else max(0.0, (now - oldest).total_seconds())
    return int(pending), lag


def prune_relayed(db: Database, keep_s: float, now: datetime) -> int:
    """Delete relayed rows older than `keep_s`: the streams have them, and nobody else needs them."""
    cutoff = now - timedelta(seconds=keep_s)
    with db.transaction() as session:
        gone = session.execute(delete(OutboxMessage).where(OutboxMessage.relayed_at.is_not(None),
                                                           OutboxMessage.relayed_at > IN_FLIGHT,
                                                           OutboxMessage.relayed_at < cutoff))
        return int(gone.rowcount)  # type: ignore[attr-defined]
