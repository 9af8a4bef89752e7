"""Requests safe to retry: with an Idempotency-Key, the first request's outcome (success or
refusal) is stored in the same transaction as its effects, and the same key returns it again.

The same key with another body is a 422; the same key twice at once runs once (the second waits
on the key's unique row, then reads the stored outcome). Keys are scoped to who sent them and
where, so one client's key is never another's.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lbs_service.errors import DomainError
from lbs_service.problems import status_for
from lbs_service.storage.db import Database
from lbs_service.storage.models import IdempotencyRecord


@dataclass(frozen=True)
class Outcome:
    status: int
    body: dict[str, Any]  # the success body, or a problem's fields


def problem_outcome(status: int, title: str, detail: str) -> Outcome:
    return Outcome(status, {"type": "about:blank", "status": status, "title": title, "detail": detail})


def refusal(error: DomainError) -> Outcome:
    """A domain refusal as a stored outcome (a retry gets the same refusal)."""
    return problem_outcome(status_for(error), error.title, error.detail)


class _KeyTaken(Exception):
    """Another request holds (or held) this key."""


def request_hash(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


def run_once(db: Database, scope: str, key: str | None, digest: str, work: Callable[[Session], Outcome]) -> Outcome:
    """Run `work` in a transaction; with a key, once per (scope, key), answering retries alike.

    A refusal `work` returns is stored (and its partial effects kept: return refusals only before
    making any); an exception rolls everything back and stores nothing.
    """
    if key is None:
        with db.transaction() as session:
            return work(session)
    try:
        with db.transaction() as session:
            record = IdempotencyRecord(scope=scope, key=key, request_hash=digest, status_code=0, response={})
            session.add(record)
            try:
                session.flush()  # takes the key (and waits for a concurrent holder of it)
            except IntegrityError:
                raise _KeyTaken from None
            outcome = work(session)
            record.status_code, record.response = outcome.status, outcome.body
            return outcome
    except _KeyTaken:
        pass
    with db.session() as session:
        earlier = session.scalar(select(IdempotencyRecord).where(IdempotencyRecord.scope == scope,
                                                                 IdempotencyRecord.key == key))
    if earlier is None:
        return problem_outcome(409, "Conflict", "a request with this Idempotency-Key is in progress; retry")
    if earlier.request_hash != digest:
        return problem_outcome(422, "Invalid request", "this Idempotency-Key was used with a different request")
    return Outcome(earlier.status_code, earlier.response)
