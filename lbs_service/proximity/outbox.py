"""The outbox relay: moves committed alerts and promotions from the database to the channel streams.

One relay at a time per database (a PostgreSQL advisory lock held from claim to mark), taking
rows in id order. A crash between publishing and marking a row is harmless: the stream remembers
the outbox ids it took per channel and skips a repeat.
"""

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select, text, update
from sqlalchemy.orm import Session

from lbs_service import metrics
from lbs_service.storage.db import Database
from lbs_service.storage.models import OutboxMessage
from push.hub import Hub

log = logging.getLogger(__name__)
_RELAY_LOCK = 0x4C4253  # "LBS": the advisory lock key of the relay
_BATCH = 500
_PIPELINE = 100  # messages per Redis round trip


def enqueue(session: Session, channel: str, payload: dict[str, Any]) -> None:
    """Record a message in the caller's transaction: it exists exactly when the event that caused it does."""
    session.add(OutboxMessage(channel=channel, payload=payload))


class OutboxRelay:
    def __init__(self, db: Database, hub: Hub, poll_s: float = 0.2) -> None:
        self.db = db
        self.hub = hub
        self.poll_s = poll_s
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
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

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_s)
            self._wake.clear()
            if self._stopping:
                return
            try:
                while await self.relay_once() == _BATCH:
                    pass
            except Exception:  # the database or Redis blinked: the rows stay and the next round retries
                log.exception("outbox relay round failed")

    async def relay_once(self) -> int:
        """Relay up to one batch, holding the relay lock from claim to mark so channel order holds."""
        connection = await asyncio.to_thread(self.db.engine.connect)
        try:
            if not await asyncio.to_thread(self._lock, connection):
                return 0
            rows = await asyncio.to_thread(self._pending, connection)
            relayed: list[int] = []
            try:
                for begin in range(0, len(rows), _PIPELINE):
                    chunk = rows[begin : begin + _PIPELINE]
                    await self.hub.publish_many([(channel, payload, row_id) for row_id, channel, payload in chunk])
                    relayed += [row_id for row_id, _, _ in chunk]
            finally:
                await asyncio.to_thread(self._mark, connection, relayed)
            metrics.count("lbs_outbox_relayed_total", len(relayed))
            return len(rows)
        finally:
            await asyncio.to_thread(self._release, connection)

    def _lock(self, connection: Connection) -> bool:
        if not self.db.is_postgres:
            return True  # the embedded default runs one process
        return bool(connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": _RELAY_LOCK}))

    @staticmethod
    def _pending(connection: Connection) -> list[tuple[int, str, dict[str, Any]]]:
        query = select(OutboxMessage.id, OutboxMessage.channel, OutboxMessage.payload)
        query = query.where(OutboxMessage.relayed_at.is_(None)).order_by(OutboxMessage.id).limit(_BATCH)
        rows = [(i, c, p) for i, c, p in connection.execute(query)]
        connection.commit()
        return rows

    @staticmethod
    def _mark(connection: Connection, ids: list[int]) -> None:
        if ids:
            stamp = datetime.now(UTC)
            connection.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(relayed_at=stamp))
            connection.commit()

    def _release(self, connection: Connection) -> None:
        try:
            if self.db.is_postgres:
                connection.execute(text("SELECT pg_advisory_unlock_all()"))
                connection.commit()
        finally:
            connection.close()


def outbox_backlog(db: Database) -> tuple[int, float]:
    """Messages committed but not yet on the streams, and how long the oldest has waited (s)."""
    with db.session() as session:
        pending, oldest = session.execute(
            select(func.count(), func.min(OutboxMessage.created_at)).where(OutboxMessage.relayed_at.is_(None))).one()
    lag = 0.0 if oldest is None else max(0.0, (datetime.now(UTC) - oldest).total_seconds())
    return int(pending), lag
