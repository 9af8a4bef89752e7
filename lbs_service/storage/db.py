"""Engine and session factory for PostgreSQL/PostGIS or the embedded SQLite file."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from lbs_service.settings import DatabaseSettings


def make_engine(settings: DatabaseSettings) -> Engine:
    url = settings.effective_database_url
    if url.startswith("sqlite"):
        settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # pre-ping and short timeouts: after PostgreSQL comes back the pool heals itself, and while it is
    # away a request fails fast with a 503 instead of hanging.
    # hide_parameters: a logged database error must not carry coordinates, user ids or codes.
    return create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True, pool_timeout=5,
                         connect_args={"connect_timeout": 5}, hide_parameters=True)


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    # WAL lets several worker processes read while one writes.
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Database:
    """The engine and sessions for PostgreSQL/PostGIS or the embedded SQLite file."""

    def __init__(self, settings: DatabaseSettings) -> None:
        self.settings = settings
        self.engine = make_engine(settings)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as session:
            yield session

    def reachable(self) -> bool:
        """Does the database answer a trivial query now?"""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def new_session(self) -> Session:
        """A session the caller begins, commits and closes itself (one that spans two calls)."""
        return self._sessions()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def on_commit(self, callback: Callable[[Session], None]) -> None:
        """Call `callback(session)` after every commit of a session from this database (in the committing thread)."""
        event.listen(self._sessions, "after_commit", callback)

    def dispose(self) -> None:
        self.engine.dispose()


def insert_for(is_postgres: bool) -> Any:
    """The dialect's INSERT (with ON CONFLICT): PostgreSQL's or SQLite's, which share the same calls."""
    return postgresql.insert if is_postgres else sqlite.insert


def session_insert(session: Session) -> Any:
    """insert_for the database this session talks to."""
    return insert_for(session.get_bind().dialect.name == "postgresql")
