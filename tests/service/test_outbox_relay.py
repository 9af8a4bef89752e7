"""A relay that crashed after publishing but before marking its rows repeats nothing when it runs again."""

from sqlalchemy import update

from lbs_service.outbox.relay import OutboxRelay
from lbs_service.outbox.writer import enqueue
from lbs_service.storage.db import Database
from lbs_service.storage.models import OutboxMessage
from push.broker import InProcessBroker
from push.hub import Hub
from tests.clock import fixed_clock


async def test_rerelaying_unmarked_rows_is_harmless(sqlite_settings):
    db = Database(sqlite_settings)
    hub = Hub(InProcessBroker())
    await hub.start()
    with db.transaction() as session:
        for n in range(7):
            enqueue(session, "store:1" if n % 2 else "store:2", {"type": "arrival", "n": n})
    relay = OutboxRelay(db, hub, fixed_clock())
    assert await relay.relay_once() == 7
    with db.transaction() as session:  # as if the worker died before marking them
        session.execute(update(OutboxMessage).values(relayed_at=None))
    assert await relay.relay_once() == 7
    assert await relay.relay_once() == 0
    store1 = await hub.broker.replay("store:1", 0)
    store2 = await hub.broker.replay("store:2", 0)
    assert [m.body["n"] for m in store1] == [1, 3, 5] and [m.body["n"] for m in store2] == [0, 2, 4, 6]
    assert [m.id for m in store1] == sorted({m.id for m in store1})  # growing, each once


async def test_rows_committed_while_a_relay_runs_are_relayed_next_round(sqlite_settings):
    db = Database(sqlite_settings)
    hub = Hub(InProcessBroker())
    await hub.start()
    relay = OutboxRelay(db, hub, fixed_clock())
    with db.transaction() as session:
        enqueue(session, "store:3", {"n": 1})
    assert await relay.relay_once() == 1
    with db.transaction() as session:
        enqueue(session, "store:3", {"n": 2})
    assert await relay.relay_once() == 1
    assert [m.body["n"] for m in await hub.broker.replay("store:3", 0)] == [1, 2]
