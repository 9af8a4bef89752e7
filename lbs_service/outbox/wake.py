"""Waking a background loop (the relay, the Web Push sender) when a transaction that wrote its rows
commits, from whatever thread committed it: the session is marked (a flag in Session.info) by
whoever wrote the rows, so nobody has to remember to wake anyone."""

import asyncio
import contextlib

from sqlalchemy.orm import Session

from lbs_service.storage.db import Database


class CommitWake:
    """An asyncio.Event set after each commit whose session carries `flag`, and whenever asked."""

    def __init__(self, db: Database, flag: str) -> None:
        self.flag = flag
        self._event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        db.on_commit(self._committed)

    def bind(self) -> None:
        """From the loop that waits: commits in other threads reach it from now on."""
        self._loop = asyncio.get_running_loop()

    def unbind(self) -> None:
        self._loop = None

    def set(self) -> None:
        self._event.set()

    async def wait(self, timeout_s: float) -> bool:
        """Until woken, or `timeout_s` (the poll that is the safety net); then ready for the next one.
        True when woken."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout_s)
        woken = self._event.is_set()
        self._event.clear()
        return woken

    def _committed(self, session: Session) -> None:
        if session.info.pop(self.flag, False) and self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closing: the next start polls anyway
                self._loop.call_soon_threadsafe(self._event.set)
