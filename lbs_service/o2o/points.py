"""A member's points: an append-only ledger, and a balance that never goes below zero.

Every entry names what earned or spent it (reason, ref) once: a retried redemption or a second
review of the same visit cannot earn twice (a unique key). Spending is a conditional decrement of
the balance row (`balance >= cost`), so concurrent exchanges cannot overdraw it; the database
also refuses a negative balance outright (a check constraint).
"""

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lbs_service.errors import Conflict
from lbs_service.storage.db import Database, session_insert
from lbs_service.storage.models import PointsBalance, PointsEntry

ENTRIES_SHOWN = 100


def _entry(session: Session, user_id: str, delta: int, reason: str, ref: str, at: datetime) -> bool:
    """Append an entry; False when (reason, ref) is in the ledger already."""
    statement = session_insert(session)(PointsEntry).values(user_id=user_id, delta=delta, reason=reason, ref=ref, at=at)
    return session.execute(statement.on_conflict_do_nothing().returning(PointsEntry.id)).first() is not None


def earn(session: Session, user_id: str, amount: int, reason: str, ref: str, at: datetime) -> None:
    """Credit `amount` for (reason, ref), once."""
    if amount <= 0 or not _entry(session, user_id, amount, reason, ref, at):
        return
    upsert = session_insert(session)(PointsBalance).values(user_id=user_id, balance=amount)
    session.execute(upsert.on_conflict_do_update(index_elements=["user_id"],
                                                 set_={"balance": PointsBalance.balance + amount}))


def spend(session: Session, user_id: str, amount: int, reason: str, ref: str, at: datetime) -> None:
    """Debit `amount`, or refuse (409) when the balance is short; nothing is spent then."""
    taken = session.execute(update(PointsBalance).where(PointsBalance.user_id == user_id,
                                                        PointsBalance.balance >= amount)
                            .values(balance=PointsBalance.balance - amount)).rowcount  # type: ignore[attr-defined]
    if taken != 1:
        raise Conflict(f"this needs {amount} points; you have fewer")
    if not _entry(session, user_id, -amount, reason, ref, at):
        raise Conflict("this was paid for with points already")


def take_back(session: Session, user_id: str, reason: str, ref: str, at: datetime) -> int:
    """Reverse what (reason, ref) earned, as far as the balance allows (it never goes below zero);
    returns the points taken back."""
    earned = session.scalar(select(PointsEntry.delta).where(PointsEntry.user_id == user_id,
                                                            PointsEntry.reason == reason, PointsEntry.ref == ref))
    if not earned or earned <= 0:
        return 0
    balance = session.scalar(select(PointsBalance.balance).where(PointsBalance.user_id == user_id)
                             .with_for_update()) or 0
    taken = min(earned, balance)
    if taken == 0 or not _entry(session, user_id, -taken, f"undo_{reason}", ref, at):
        return 0
    session.execute(update(PointsBalance).where(PointsBalance.user_id == user_id)
                    .values(balance=PointsBalance.balance - taken))
    return taken


def statement_of(db: Database, user_id: str) -> tuple[int, list[PointsEntry]]:
    """The balance and the latest entries, newest first."""
    with db.session() as session:
        balance = session.scalar(select(PointsBalance.balance).where(PointsBalance.user_id == user_id)) or 0
        entries = list(session.scalars(select(PointsEntry).where(PointsEntry.user_id == user_id)
                                       .order_by(PointsEntry.id.desc()).limit(ENTRIES_SHOWN)))
    return balance, entries
