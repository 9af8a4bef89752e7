"""The held connection background loops poll through: one statement a question, and after its
connection is killed (a database restart, an administrator) the next question but one is answered
again on a new connection, with nothing left checked out of the pool."""

import pytest
from sqlalchemy import func, select, text

from lbs_service.storage.db import Database
from lbs_service.storage.models import StoreChange
from lbs_service.storage.stores import StoreRepository
from lbs_service.storage.watch import Watch


def _backend(watch: Watch) -> int:
    return int(watch.scalar(text("SELECT pg_backend_pid()")))


def test_a_killed_watch_connection_fails_one_question_and_the_next_reconnects(pg_settings):
    db = Database(pg_settings)
    watch = Watch(db.engine)
    try:
        first = _backend(watch)
        assert _backend(watch) == first  # held: the same connection answers every question
        with db.engine.connect() as other:
            assert other.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises for a dead connection
            _backend(watch)
        assert _backend(watch) != first
        assert db.engine.pool.checkedout() == 1  # the dead one went, only the new one is held
    finally:
        watch.close()
        assert db.engine.pool.checkedout() == 0
        db.dispose()


def test_the_newest_change_through_a_watch_is_the_feed_s_newest(pg_settings):
    db = Database(pg_settings)
    repository = StoreRepository(db)
    watch = repository.watch()
    try:
        with db.session() as session:
            newest = session.scalar(select(func.coalesce(func.max(StoreChange.seq), 0)))
        assert repository.newest_change(watch) == newest == repository.latest_change()
    finally:
        watch.close()
        db.dispose()
