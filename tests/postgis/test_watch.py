"""The held connection background loops poll through: one statement a question, and after its
connection is killed (a database restart, an administrator) the next question is answered on a new
connection, with nothing left checked out of the pool; a statement that fails keeps the connection;
with the database away, a question fails at once, tried once."""

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import ProgrammingError

from lbs_service.storage.db import Database
from lbs_service.storage.models import StoreChange
from lbs_service.storage.stores import StoreRepository
from lbs_service.storage.watch import Watch

pytestmark = pytest.mark.postgis


def _backend(watch: Watch) -> int:
    return int(watch.scalar(text("SELECT pg_backend_pid()")))


def test_a_question_on_a_killed_connection_is_answered_on_a_new_one(pg_settings):
    db = Database(pg_settings)
    watch = Watch(db.engine)
    try:
        first = _backend(watch)
        assert _backend(watch) == first  # held: the same connection answers every question
        with db.engine.connect() as other:
            assert other.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        second = _backend(watch)  # asked again on a new connection: the caller saw nothing
        assert second != first and _backend(watch) == second
        assert db.engine.pool.checkedout() == 1  # the dead one went, only the new one is held
        watch.close()
        assert db.engine.pool.checkedout() == 0
    finally:
        watch.close()
        db.dispose()


def test_a_failing_statement_keeps_the_connection(pg_settings):
    db = Database(pg_settings)
    watch = Watch(db.engine)
    try:
        first = _backend(watch)
        with pytest.raises(ProgrammingError):
            watch.scalar(text("SELECT no_such_column FROM store_changes"))
        assert _backend(watch) == first
    finally:
        watch.close()
        db.dispose()


def test_a_question_to_a_database_that_is_away_fails_after_one_try():
    engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 2})
    attempts = []
    event.listen(engine, "do_connect", lambda *args: attempts.append(1))
    watch = Watch(engine)
    for _ in range(2):
        with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises for a refused connection
            watch.scalar(text("SELECT 1"))
    assert len(attempts) == 2  # one try a question: a new connection that fails is not tried again
    assert watch._connection is None
    engine.dispose()


def test_the_newest_change_through_a_watch_follows_the_feed(pg_settings):
    db = Database(pg_settings)
    repository = StoreRepository(db)
    watch = repository.watch()
    try:
        before = repository.newest_change(watch)
        with db.transaction() as session:
            session.add_all([StoreChange(store_id=7), StoreChange(store_id=8)])
        after = repository.newest_change(watch)
        assert after > before and after == repository.latest_change()
    finally:
        watch.close()
        db.dispose()
