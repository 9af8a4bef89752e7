"""Which arrivals of a fix are new: the key (user, store, fix time) is inserted in the arrival's own
transaction, and a key already there means this fix was recorded before, by an attempt whose fence
checkpoint was lost (Redis went away after the commit) and which the client then retried."""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from lbs_service.records import StoreRecord
from lbs_service.storage.db import Database
from lbs_service.storage.models import ArrivalKey


class HasStore(Protocol):
    @property
    def store(self) -> StoreRecord: ...


A = TypeVar("A", bound=HasStore)


def first_arrivals(session: Session, is_postgres: bool, user_id: str, fix_ts: float,
                   arrivals: Sequence[A]) -> list[A]:
    rows = [{"user_id": user_id, "store_id": a.store.id, "fix_ms": round(fix_ts * 1000)} for a in arrivals]
    dialect_insert = postgresql.insert if is_postgres else sqlite.insert
    statement = dialect_insert(ArrivalKey).values(rows).on_conflict_do_nothing().returning(ArrivalKey.store_id)
    new = set(session.scalars(statement))
    return [a for a in arrivals if a.store.id in new]


def expire_arrival_keys(db: Database, keep_s: float) -> int:
    cutoff_ms = round((datetime.now(UTC) - timedelta(seconds=keep_s)).timestamp() * 1000)
    with db.transaction() as session:
        deleted = session.execute(delete(ArrivalKey).where(ArrivalKey.fix_ms < cutoff_ms))
        return int(deleted.rowcount)  # type: ignore[attr-defined]
