"""A relay that crashed after publishing but before marking its rows repeats nothing when it runs again;
its polls find what no wake announced, and an empty poll runs no round."""

import asyncio

from sqlalchemy import update

from lbs_service.outbox.relay import OutboxRelay
from lbs_service.outbox.writer import enqueue
from lbs_service.storage.db import Database
from lbs_service.storage.models import OutboxMessage
from lbs_service.storage.watch import Watch
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


async def test_a_poll_finds_rows_no_wake_announced_and_an_empty_poll_runs_no_round(sqlite_settings):
    db = Database(sqlite_settings)
    hub = Hub(InProcessBroker())
    await hub.start()
    with db.transaction() as session:  # before the relay listens for commits: as another worker's write
        enqueue(session, "store:4", {"n": 1})
    relay = OutboxRelay(db, hub, fixed_clock(), poll_s=0.02)
    rounds = 0
    relay_once = relay.relay_once

    async def counted() -> int:
        nonlocal rounds
        rounds += 1
        return await relay_once()

    empty_probes = 0
    anything_to_relay = relay._anything_to_relay

    def probed(watch: Watch) -> bool:
        nonlocal empty_probes
        found = anything_to_relay(watch)
        empty_probes += not found
        return found

    relay.relay_once = counted  # type: ignore[method-assign]
    relay._anything_to_relay = probed  # type: ignore[method-assign]
    await relay.start()
    try:
        for _ in range(500):
            if await hub.broker.replay("store:4", 0):
                break
            await asyncio.sleep(0.01)
        assert [m.body["n"] for m in await hub.broker.replay("store:4", 0)] == [1]
        after, seen = rounds, empty_probes
        for _ in range(500):  # five polls that found nothing, however slowly they come
            if empty_probes >= seen + 5:
                break
            await asyncio.sleep(0.01)
        assert empty_probes >= seen + 5 and rounds == after
    finally:
        await relay.close()
