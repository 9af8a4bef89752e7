"""A connection of its own for a background loop's frequent small question ("is there anything
new?"), asked several times a second whether or not anything happened.

Through a pooled session each such question cost a checkout, a pre-ping, the query and a rollback:
about 30 ms of CPU a second for an idle worker's loops together, taken in threads that hold the GIL
while requests wait (profiled; the p99 of nearby at 2,000 req/s showed it). Here the question is one
statement on a held autocommit connection. When the held connection turns out dead (the database
restarted since the last poll), it is dropped and the question asked once more on a new one,
checked out with the pool's pre-ping: the first poll after the database is back succeeds. Any
other failure is the caller's (its loop logs it and retries at the next poll); a failed statement
keeps the connection, which autocommit leaves with nothing to undo.
"""

import threading
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Executable


class Watch:
    """One held autocommit connection; `scalar` asks it one question. The lock keeps questions from
    two threads apart, and lets close() wait for a question still running in a thread."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: Connection | None = None
        self._lock = threading.Lock()

    def scalar(self, statement: Executable, params: dict[str, Any] | None = None) -> Any:
        """One read-only statement's single value."""
        with self._lock:
            held = self._connection is not None
            try:
                return self._ask(statement, params)
            except DBAPIError as error:
                if not error.connection_invalidated:
                    raise  # the statement failed, not the connection: autocommit leaves nothing to undo
                self._drop()
                if not held:
                    raise
            except Exception:
                self._drop()
                raise
            try:  # the held connection had died: once more, on a new one
                return self._ask(statement, params)
            except Exception:
                self._drop()
                raise

    def _ask(self, statement: Executable, params: dict[str, Any] | None) -> Any:
        connection = self._connection
        if connection is None:
            connection = self._connection = self.engine.connect()  # held from here: _drop closes it
            connection.execution_options(isolation_level="AUTOCOMMIT")
        return connection.execute(statement, params or {}).scalar()

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.invalidate()  # never back to the pool: it may be the broken one
            finally:
                connection.close()
