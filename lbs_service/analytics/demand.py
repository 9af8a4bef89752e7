"""Demand: where users are, kept only as (H3 res-9 cell, day, salted user hash).

Fixes and searches that found nothing are reduced to that triple at once, buffered in memory,
and written in batches that ignore repeats, so the push path pays a set insertion per fix.
Counting distinct hashes per cell gives distinct users; cells with fewer than k users are
suppressed when reported; rows older than the retention are deleted.
"""

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

from h3.api import basic_int as h3i
from sqlalchemy import delete, func, select

from lbs_service.storage.db import Database, insert_for
from lbs_service.storage.models import DemandCell

DEMAND_RESOLUTION = 9
_SCRATCH = ("CREATE TEMP TABLE IF NOT EXISTS demand_scratch (cell9 bigint, day varchar(10), user_hash varchar(16), "
            "cell8 bigint) ON COMMIT DELETE ROWS")
_COPY = "COPY demand_scratch (cell9, day, user_hash, cell8) FROM STDIN"
_FROM_SCRATCH = ("INSERT INTO demand_cells (cell9, day, user_hash, cell8) SELECT cell9, day, user_hash, cell8 "
                 "FROM demand_scratch ORDER BY cell9, day, user_hash ON CONFLICT DO NOTHING")  # one order: no deadlock
_MAX_BUFFER = 200_000
_MAX_HASHES = 100_000  # users whose hash is remembered (~20 MB at most); past that, the memo starts again


class DemandRecorder:
    """Buffers (cell, day, salted user hash) sightings and writes them in batches; never a position."""

    def __init__(self, db: Database, secret: str) -> None:
        self.db = db
        self._salt = hmac.new(secret.encode(), b"demand", hashlib.sha256).digest()
        self._buffer: set[tuple[int, str, str]] = set()
        self._hashes: dict[str, str] = {}  # every fix needs its user's hash: an HMAC was 3 % of a fix

    def user_hash(self, user_id: str, remember: bool = True) -> str:
        """The user's salted hash; remembered for the fixes to come unless `remember` is False (an
        export or an erasure asks once)."""
        hashed = self._hashes.get(user_id)
        if hashed is None:
            hashed = hmac.new(self._salt, user_id.encode(), hashlib.sha256).hexdigest()[:16]
            if remember:
                if len(self._hashes) >= _MAX_HASHES:
                    self._hashes.clear()
                self._hashes[user_id] = hashed
        return hashed

    def saw(self, user_id: str, lat: float, lng: float, at: datetime) -> None:
        if len(self._buffer) < _MAX_BUFFER:  # a stalled database costs demand counts, never memory
            cell = h3i.latlng_to_cell(lat, lng, DEMAND_RESOLUTION)
            self._buffer.add((cell, at.astimezone(UTC).date().isoformat(), self.user_hash(user_id)))

    def forget(self, user_id: str) -> None:
        """Drop what this worker buffered for the user (erasure); flushed rows are deleted by the caller."""
        hashed = self.user_hash(user_id, remember=False)
        self._hashes.pop(user_id, None)
        self._buffer = {row for row in self._buffer if row[2] != hashed}

    def flush(self) -> int:
        rows, self._buffer = self._buffer, set()
        if not rows:
            return 0
        if self.db.is_postgres:
            self._copy_in(rows)
            return len(rows)
        values = [{"cell9": c, "day": d, "user_hash": u, "cell8": h3i.cell_to_parent(c, 8)} for c, d, u in rows]
        with self.db.transaction() as session:
            for begin in range(0, len(values), 5000):
                session.execute(insert_for(False)(DemandCell).on_conflict_do_nothing(), values[begin : begin + 5000])
        return len(values)

    def _copy_in(self, rows: set[tuple[int, str, str]]) -> None:
        """PostgreSQL: COPY into a scratch table, then one INSERT that skips repeats. The flush runs in a
        thread beside the event loop; building a multi-row INSERT for ten thousand sightings took the
        GIL for long enough that every socket of the worker felt it (measured: loop stalls of 100 ms
        and more every flush at 1,000 fixes/s)."""
        with self.db.engine.begin() as connection:
            raw: Any = connection.connection.driver_connection
            with raw.cursor() as cursor:
                cursor.execute(_SCRATCH)
                with cursor.copy(_COPY) as copy:
                    for cell, day, user in rows:
                        copy.write_row((cell, day, user, h3i.cell_to_parent(cell, 8)))
                cursor.execute(_FROM_SCRATCH)

    def expire(self, keep_days: int, now: datetime) -> int:
        cutoff = (now - timedelta(days=keep_days)).date().isoformat()
        with self.db.transaction() as session:
            return int(session.execute(delete(DemandCell).where(DemandCell.day < cutoff)).rowcount)  # type: ignore[attr-defined]


def demand_by_cell(db: Database, resolution: int, days: int, k: int, now: datetime) -> dict[int, int]:
    """Distinct users per cell over the last `days`; cells under k users are left out (suppressed)."""
    column = DemandCell.cell9 if resolution == 9 else DemandCell.cell8
    since = (now - timedelta(days=days)).date().isoformat()
    with db.session() as session:
        rows = session.execute(select(column, func.count(func.distinct(DemandCell.user_hash)))
                               .where(DemandCell.day >= since).group_by(column)).all()
    return {int(cell): int(users) for cell, users in rows if users >= k}
