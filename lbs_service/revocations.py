"""Revoked tokens: an operator revokes a subject (a staff member who left, a leaked token) and
every worker refuses that subject's older tokens within one poll, on REST and on open websockets.

Tokens stay stateless (checked by signature); only the short list of revoked subjects is shared,
through the database, and each worker keeps a copy it refreshes every `poll_s`.
"""

import logging
import time
from collections.abc import Callable

from sqlalchemy import select

from lbs_service.auth import Principal
from lbs_service.errors import Unauthorized
from lbs_service.storage.db import Database, insert_for
from lbs_service.storage.models import TokenRevocation

log = logging.getLogger(__name__)


class RevocationList:
    """The revoked subjects, refreshed from the database, closing the sockets of any revoked token."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._revoked: dict[str, int] = {}
        self._watched: dict[int, tuple[Principal, Callable[[], None]]] = {}

    def refresh(self) -> None:
        """Reload the list (it is short: subjects, not tokens)."""
        with self.db.session() as session:
            rows = session.execute(select(TokenRevocation.subject, TokenRevocation.revoked_before)).all()
        self._revoked = {subject: before for subject, before in rows}

    def watch(self, principal: Principal, on_revoked: Callable[[], None]) -> int:
        """Call on_revoked (e.g. close a websocket) if this principal is revoked while connected."""
        handle = id(on_revoked)
        self._watched[handle] = (principal, on_revoked)
        return handle

    def unwatch(self, handle: int) -> None:
        self._watched.pop(handle, None)

    def enforce(self) -> int:
        """Tell every watched connection whose token is now revoked; returns how many."""
        hit = [(handle, callback) for handle, (principal, callback) in self._watched.items()
               if self.is_revoked(principal)]
        for handle, callback in hit:
            self._watched.pop(handle, None)
            callback()
        return len(hit)

    def is_revoked(self, principal: Principal) -> bool:
        before = self._revoked.get(principal.subject)
        return before is not None and (principal.issued_at is None or principal.issued_at <= before)

    def check(self, principal: Principal) -> Principal:
        if self.is_revoked(principal):
            raise Unauthorized("this token has been revoked; ask for a new one")
        return principal

    def revoke(self, subject: str, reason: str, by: str) -> int:
        """Revoke every token of `subject` issued up to now; returns that moment (unix seconds)."""
        now = int(time.time())
        row = {"subject": subject, "revoked_before": now, "reason": reason, "revoked_by": by}
        statement = insert_for(self.db.is_postgres)(TokenRevocation).values(**row)
        statement = statement.on_conflict_do_update(
            index_elements=["subject"], set_={k: statement.excluded[k] for k in ("revoked_before", "reason",
                                                                                 "revoked_by")})
        with self.db.transaction() as session:
            session.execute(statement)
        self._revoked[subject] = now  # this worker at once; the others at their next refresh
        self.enforce()
        log.info("tokens revoked for one subject by %s", by)
        return now
