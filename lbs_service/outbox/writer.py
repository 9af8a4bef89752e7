"""Writing to the outbox: a message exists exactly when the event that caused it committed.

Whoever enqueues need not remember to wake the relay: the session is marked, and the relay wakes
on that session's commit (OutboxRelay listens to the database's commits).
"""

from typing import Any

from sqlalchemy.orm import Session

from lbs_service.storage.models import OutboxMessage

WROTE_OUTBOX = "lbs.wrote_outbox"  # a flag in Session.info


def enqueue(session: Session, channel: str, payload: dict[str, Any], subject: str | None = None) -> OutboxMessage:
    """Record a message in the caller's transaction. `subject` is the user it is about (erasure finds it)."""
    row = OutboxMessage(channel=channel, payload=payload, subject=subject)
    session.add(row)
    session.info[WROTE_OUTBOX] = True
    return row
