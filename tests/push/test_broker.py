"""Both backends: ids grow by one per channel, replay returns exactly what was missed or says reset."""

import asyncio

from push.hub import Hub


async def test_ids_grow_per_channel_and_replay_is_in_order(broker):
    hub = Hub(broker)
    await hub.start()
    try:
        ids_a = [await hub.publish("store:1", {"type": "arrival", "n": n}) for n in range(5)]
        ids_b = [await hub.publish("store:2", {"type": "arrival", "n": n}) for n in range(2)]
        assert ids_a == [1, 2, 3, 4, 5] and ids_b == [1, 2]
        missed = await broker.replay("store:1", 2)
        assert [m.id for m in missed] == [3, 4, 5] and [m.body["n"] for m in missed] == [2, 3, 4]
        assert await broker.replay("store:1", 5) == []
        assert await broker.replay("store:1", 9) is None  # an id the channel never gave
    finally:
        await hub.close()


async def test_replay_past_retention_is_a_reset(broker):
    hub = Hub(broker)
    await hub.start()
    try:
        for n in range(200):  # retention is 50
            await hub.publish("store:3", {"n": n})
        assert await broker.replay("store:3", 1) is None
        recent = await broker.replay("store:3", 190)
        assert [m.id for m in recent] == list(range(191, 201))
    finally:
        await hub.close()


async def test_dedupe_key_makes_a_relay_retry_harmless(broker):
    hub = Hub(broker)
    await hub.start()
    try:
        assert await hub.publish("store:4", {"n": 1}, dedupe_key=10) == 1
        assert await hub.publish("store:4", {"n": 1}, dedupe_key=10) is None  # the same outbox row again
        assert await hub.publish("store:4", {"n": 2}, dedupe_key=11) == 2
        assert await hub.publish("store:4", {"n": 0}, dedupe_key=9) == 3  # a row that committed late still goes out
        assert [m.body["n"] for m in await broker.replay("store:4", 0)] == [1, 2, 0]
    finally:
        await hub.close()


async def next_message(subscriber, timeout=2.0):
    return await asyncio.wait_for(subscriber.queue.get(), timeout)


async def test_live_delivery_and_rejoin_with_last_id(broker):
    hub = Hub(broker)
    await hub.start()
    try:
        console, reset = await hub.subscribe("store:5", None)
        assert not reset
        await asyncio.sleep(0.2)  # let the shard subscription settle
        await hub.publish("store:5", {"type": "arrival", "n": 1})
        first = await next_message(console)
        assert first.id == 1 and first.body["n"] == 1
        await hub.unsubscribe(console)
        for n in range(2, 6):
            await hub.publish("store:5", {"type": "arrival", "n": n})
        again, reset = await hub.subscribe("store:5", first.id)
        assert not reset
        got = [await next_message(again) for _ in range(4)]
        assert [m.id for m in got] == [2, 3, 4, 5]
        await asyncio.sleep(0.2)
        await hub.publish("store:5", {"type": "arrival", "n": 6})
        assert (await next_message(again)).id == 6
        assert again.queue.empty()
    finally:
        await hub.close()


async def test_publishing_during_a_rejoin_loses_and_repeats_nothing(broker):
    hub = Hub(broker)
    await hub.start()
    try:
        for n in range(10):
            await hub.publish("store:6", {"n": n})
        writer = asyncio.gather(*(hub.publish("store:6", {"n": n}) for n in range(10, 30)))
        subscriber, _ = await hub.subscribe("store:6", 3)
        await writer
        await asyncio.sleep(0.5)
        got = []
        while not subscriber.queue.empty():
            got.append(subscriber.queue.get_nowait().id)
        assert got == list(range(4, 31))
    finally:
        await hub.close()


async def test_a_consumer_that_stops_reading_is_cut_off_alone(broker):
    hub = Hub(broker, queue_limit=5)
    await hub.start()
    try:
        slow, _ = await hub.subscribe("store:7", None)
        fast, _ = await hub.subscribe("store:7", None)
        await asyncio.sleep(0.2)
        received = []
        for n in range(20):
            await hub.publish("store:7", {"n": n})
            received.append((await next_message(fast)).id)
        assert slow.overflowed.is_set() and slow.queue.qsize() == 5
        assert not fast.overflowed.is_set() and received == list(range(1, 21))
    finally:
        await hub.close()


async def test_publish_many_keeps_order_and_dedupes(broker):
    hub = Hub(broker)
    await hub.start()
    try:
        ids = await hub.publish_many([("store:8", {"n": n}, 100 + n) for n in range(5)] + [("store:8", {"n": 0}, 100)])
        assert ids == [1, 2, 3, 4, 5, None]
        assert [m.body["n"] for m in await broker.replay("store:8", 0)] == [0, 1, 2, 3, 4]
    finally:
        await hub.close()
