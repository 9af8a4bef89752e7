"""The demand gauge reports a crowd in batches: every changed store's total reaches its channel once,
on both backends, however many stores moved at once."""

import asyncio

from lbs_service.proximity.gauge import REPORT_BATCH, DemandGauge
from push.hub import Hub
from push.messages import store_channel


async def test_a_crowd_larger_than_a_batch_is_reported_whole(broker):
    hub = Hub(broker)
    await hub.start()
    try:
        stores = list(range(1, 2 * REPORT_BATCH + 31))
        consoles = {s: await hub.subscribe(store_channel(s), None) for s in stores[:: REPORT_BATCH // 2]}
        await asyncio.sleep(0.2)  # let the shard subscriptions settle
        gauge = DemandGauge(hub, interval_s=0.01)
        for n, store in enumerate(stores):
            gauge.move(store, -1, n % 4)  # nearby, or approaching with an ETA under 5, 10 or 15 min
        assert await gauge.report() == len(stores)  # every store's total changed: one message each
        for store, console in consoles.items():
            message = await asyncio.wait_for(console.queue.get(), 2)
            bucket = (store - 1) % 4
            assert message.body["type"] == "demand" and message.body["nearby"] == 1
            under = {"5": 1, "10": 2, "15": 3}  # cumulative: under 10 min counts those under 5 too
            assert message.body["approaching"] == {k: int(0 < bucket <= b) for k, b in under.items()}
        assert await gauge.report() == 0  # nothing changed since: nothing is sent
    finally:
        await hub.close()
