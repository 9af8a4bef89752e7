"""Demand: where users are, kept only as (H3 res-9 cell, day, salted user hash).

Fixes and searches that found nothing are reduced to that triple at once, buffered in memory,
and written in batches that ignore repeats, so the push path pays a set insertion per fix.
Counting distinct hashes per cell gives distinct users; cells with fewer than k users are
suppressed when reported; rows older than the retention are deleted.
"""

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from h3.api import basic_int as h3i
from sqlalchemy import delete, func, select

from lbs_service.storage.db import Database, insert_for
from lbs_service.storage.models import DemandCell

DEMAND_RESOLUTION = 9
_MAX_BUFFER = 200_000


class DemandRecorder:
    """Buffers (cell, day, salted user hash) sightings and writes them in batches; never a position."""

    def __init__(self, db: Database, secret: str) -> None:
        self.db = db
        self._salt = hmac.new(secret.encode(), b"demand", hashlib.sha256).digest()
        self._buffer: set[tuple[int, str, str]] = set()

    def user_hash(self, user_id: str) -> str:
        return hmac.new(self._salt, user_id.encode(), hashlib.sha256).hexdigest()[:16]

    def saw(self, user_id: str, lat: float, lng: float, at: datetime) -> None:
        if len(self._buffer) < _MAX_BUFFER:  # a stalled database costs demand counts, never memory
            cell = h3i.latlng_to_cell(lat, lng, DEMAND_RESOLUTION)
            self._buffer.add((cell, at.astimezone(UTC).date().isoformat(), self.user_hash(user_id)))

    def forget(self, user_id: str) -> None:
        """Drop what this worker buffered for the user (erasure); flushed rows are deleted by the caller."""
        hashed = self.user_hash(user_id)
        self._buffer = {row for row in self._buffer if row[2] != hashed}

    def flush(self) -> int:
        rows, self._buffer = self._buffer, set()
        if not rows:
            return 0
        values = [{"cell9": c, "day": d, "user_hash": u, "cell8": h3i.cell_to_parent(c, 8)} for c, d, u in rows]
        dialect_insert = insert_for(self.db.is_postgres)
        with self.db.transaction() as session:
            for begin in range(0, len(values), 5000):
                session.execute(dialect_insert(DemandCell).on_conflict_do_nothing(), values[begin : begin + 5000])
        return len(values)

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
