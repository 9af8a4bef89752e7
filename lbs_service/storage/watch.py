"""A connection of its own for a background loop's frequent small question ("is there anything
new?"), asked several times a second whether or not anything happened.

Through a pooled session each such question cost a checkout, a pre-ping, the query and a rollback:
about 30 ms of CPU a second for an idle worker's loops together, taken in threads that hold the GIL
while requests wait (profiled; the p99 of nearby at 2,000 req/s showed it). Here the question is one
statement on a held autocommit connection. A failure drops the connection (after a database
restart it is dead) and the next question opens a new one; the caller's loop retries as before.
"""

import threading
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.sql import Executable


class Watch:
    """One held autocommit connection; `scalar` asks it one question (from any one thread at a time)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: Connection | None = None
        self._lock = threading.Lock()

    def scalar(self, statement: Executable, params: dict[str, Any] | None = None) -> Any:
        with self._lock:
            try:
                if self._connection is None:
                    self._connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
                return self._connection.execute(statement, params or {}).scalar()
            except Exception:
                self._drop()
                raise

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
