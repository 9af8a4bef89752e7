"""Both backends: ids grow per channel and chain (each message names the one before it), replay
returns exactly what was missed or says reset, acks are validated, gauges are summed."""

import asyncio

from push.hub import Hub


async def test_ids_grow_and_chain_per_channel_and_replay_is_in_order(broker):
    hub = Hub(broker)
    await hub.start()
    try:
        ids_a = [await hub.publish("store:1", {"type": "arrival", "n": n}) for n in range(5)]
        ids_b = [await hub.publish("store:2", {"type": "arrival", "n": n}) for n in range(2)]
        assert ids_a == sorted(set(ids_a)) and ids_b == sorted(set(ids_b))
        assert ids_a[0] > 10**15  # microseconds since the epoch: a stream that starts over never reuses one
        missed = await broker.replay("store:1", ids_a[1])
        assert [m.id for m in missed] == ids_a[2:] and [m.body["n"] for m in missed] == [2, 3, 4]
        assert [m.prev for m in missed] == ids_a[1:4]  # the chain
        assert await broker.replay("store:1", ids_a[-1]) == []
        assert await broker.replay("store:1", ids_a[-1] + 10**9) is None  # an id the channel never gave
        assert await broker.replay("store:1", ids_a[1] + 1) is None  # not on the chain either
        assert [m.body["n"] for m in await broker.replay("store:1", 0)] == [0, 1, 2, 3, 4]
    finally:
        await hub.close()


async def test_replay_past_retention_is_a_reset(broker):
    hub = Hub(broker)
    await hub.start()
    try:
        ids = [await hub.publish("store:3", {"n": n}) for n in range(200)]  # retention is 50
        assert await broker.replay("store:3", ids[0]) is None
        recent = await broker.replay("store:3", ids[189])
        assert [m.id for m in recent] == ids[190:]
    finally:
        await hub.close()


async def test_dedupe_key_makes_a_relay_retry_harmless(broker):
    hub = Hub(broker)
    await hub.start()
    try:
        first = await hub.publish("store:4", {"n": 1}, dedupe_key=10)
        assert first is not None
        assert await hub.publish("store:4", {"n": 1}, dedupe_key=10) is None  # the same outbox row again
        second = await hub.publish("store:4", {"n": 2}, dedupe_key=11)
        late = await hub.publish("store:4", {"n": 0}, dedupe_key=9)  # a row that committed late still goes out
        assert first < second < late  # type: ignore[operator]
        assert [m.body["n"] for m in await broker.replay("store:4", 0)] == [1, 2, 0]
    finally:
        await hub.close()


async def next_message(subscriber, timeout=2.0):
    return await asyncio.wait_for(subscriber.queue.get(), timeout)


async def test_live_delivery_and_rejoin_with_last_id(broker):
    hub = Hub(broker)
    await hub.start()
    try:
        console = await hub.subscribe("store:5", None)
        await asyncio.sleep(0.2)  # let the shard subscription settle
        published = [await hub.publish("store:5", {"type": "arrival", "n": 1})]
        first = await next_message(console)
        assert first.id == published[0] and first.body["n"] == 1
        await hub.unsubscribe(console)
        published += [await hub.publish("store:5", {"type": "arrival", "n": n}) for n in range(2, 6)]
        async with hub.subscription("store:5", first.id) as again:
            got = [await next_message(again) for _ in range(4)]
            assert [m.id for m in got] == published[1:]
            await asyncio.sleep(0.2)
            latest = await hub.publish("store:5", {"type": "arrival", "n": 6})
            assert (await next_message(again)).id == latest
            assert again.queue.empty()
        assert hub.connections == 0  # the context manager left nothing subscribed
    finally:
        await hub.close()


async def test_a_rejoin_with_an_id_the_stream_never_gave_is_told_to_reset(broker):
    hub = Hub(broker)
    await hub.start()
    try:
        latest = await hub.publish("store:9", {"type": "arrival"})
        async with hub.subscription("store:9", latest + 12345) as console:
            notice = await next_message(console)
            assert notice.is_reset and notice.to_client()["type"] == "reset" and "id" not in notice.to_client()
            await asyncio.sleep(0.2)
            newer = await hub.publish("store:9", {"type": "arrival"})
            assert (await next_message(console)).id == newer  # and live messages follow the notice
    finally:
        await hub.close()


async def test_publishing_during_a_rejoin_loses_and_repeats_nothing(broker):
    hub = Hub(broker)
    await hub.start()
    try:
        ids = [await hub.publish("store:6", {"n": n}) for n in range(10)]
        writer = asyncio.gather(*(hub.publish("store:6", {"n": n}) for n in range(10, 30)))
        subscriber = await hub.subscribe("store:6", ids[3])
        await writer
        await asyncio.sleep(0.5)
        got = []
        while not subscriber.queue.empty():
            got.append(subscriber.queue.get_nowait().id)
        assert got == [m.id for m in await broker.replay("store:6", ids[3])]  # every one after ids[3], once
        assert len(got) == 26
    finally:
        await hub.close()


async def test_a_consumer_that_stops_reading_is_cut_off_alone(broker):
    hub = Hub(broker, queue_limit=5)
    await hub.start()
    try:
        slow = await hub.subscribe("store:7", None)
        fast = await hub.subscribe("store:7", None)
        await asyncio.sleep(0.2)
        received = []
        for n in range(20):
            await hub.publish("store:7", {"n": n})
            received.append((await next_message(fast)).body["n"])
        assert slow.overflowed.is_set() and slow.queue.qsize() == 5
        assert not fast.overflowed.is_set() and received == list(range(20))
    finally:
        await hub.close()


async def test_publish_many_keeps_order_and_dedupes(broker):
    hub = Hub(broker)
    await hub.start()
    try:
        ids = await hub.publish_many([("store:8", {"n": n}, 100 + n) for n in range(5)] + [("store:8", {"n": 0}, 100)])
        assert ids[-1] is None and ids[:5] == sorted(ids[:5])  # type: ignore[type-var]
        assert [m.body["n"] for m in await broker.replay("store:8", 0)] == [0, 1, 2, 3, 4]
    finally:
        await hub.close()


async def test_acks_name_a_card_on_the_channel_once(broker):
    hub = Hub(broker)
    await hub.start()
    try:
        card = await hub.publish("store:10", {"type": "arrival"})
        order = await hub.publish("store:10", {"type": "order"})
        assert await hub.acknowledge("store:10", card + 999, {"type": "acked"}) is None  # made up
        assert await hub.acknowledge("store:10", order, {"type": "acked"}) is None  # not a card
        assert await hub.acknowledge("store:11", card, {"type": "acked"}) is None  # another store's stream
        assert not await hub.acked("store:10", card)
        acked = await hub.acknowledge("store:10", card, {"type": "acked", "alert_id": card})
        assert acked is not None and await hub.acked("store:10", card)
        assert await hub.acknowledge("store:10", card, {"type": "acked"}) is None  # once
        assert [m.body["type"] for m in await broker.replay("store:10", 0)] == ["arrival", "order", "acked"]
    finally:
        await hub.close()


async def test_gauges_sum_workers_and_speak_only_when_the_total_changes(broker):
    hub = Hub(broker)
    await hub.start()
    try:
        channel = "store:12"
        assert (await hub.report_gauges("w1", [(channel, (3, 1, 1, 0))], 0.0, 60.0))[0] > 0
        assert (await hub.report_gauges("w2", [(channel, (2, 0, 1, 1))], 0.0, 60.0))[0] > 0
        assert await hub.report_gauges("w2", [(channel, (2, 0, 1, 1))], 0.0, 60.0) == [0]  # unchanged: silent
        assert await hub.report_gauges("w1", [(channel, (4, 1, 1, 0))], 3600.0, 60.0) == [-1]  # too soon: withheld
        messages = await broker.replay(channel, 0)
        assert [m.body for m in messages] == [
            {"type": "demand", "nearby": 3, "approaching": {"5": 1, "10": 2, "15": 2}},
            {"type": "demand", "nearby": 5, "approaching": {"5": 1, "10": 3, "15": 4}},  # cumulative, both workers
        ]
    finally:
        await hub.close()


async def test_a_burst_larger_than_the_listeners_batch_arrives_whole_and_in_order(broker):
    """The Redis listener lets other tasks run every ROUTE_BATCH wake-ups: nothing is lost or
    reordered across those turns."""
    hub = Hub(broker)
    await hub.start()
    try:
        console = await hub.subscribe("store:9", None)
        await asyncio.sleep(0.2)  # let the shard subscription settle
        published = await hub.publish_many([("store:9", {"type": "arrival", "n": n}, None) for n in range(200)])
        got = [await next_message(console) for _ in range(200)]
        assert [m.id for m in got] == published and [m.body["n"] for m in got] == list(range(200))
    finally:
        await hub.close()
