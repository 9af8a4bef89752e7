"""A worker's pub/sub connection dropped by Redis: it reconnects, resubscribes and replays the gap."""

import asyncio
import uuid

import pytest
import redis.asyncio as redis

from push.hub import Hub
from push.redis_broker import RedisBroker
from tests.push.conftest import redis_url

pytestmark = pytest.mark.redis


async def kill_pubsub_connections(url, prefix):
    admin = redis.Redis.from_url(url)
    killed = 0
    for client in await admin.client_list():
        if client.get("name") == prefix and "P" in client.get("flags", ""):
            await admin.client_kill_filter(_id=client["id"])
            killed += 1
    await admin.aclose()
    return killed


async def test_messages_published_while_pubsub_is_down_are_delivered_once():
    prefix = f"lbs-test-{uuid.uuid4().hex[:8]}"
    url = redis_url()
    named = url + ("&" if "?" in url else "?") + f"client_name={prefix}"
    broker = RedisBroker(named, prefix=prefix)
    hub = Hub(broker)
    await hub.start()
    try:
        console = await hub.subscribe("store:9", None)
        await asyncio.sleep(0.3)
        await hub.publish("store:9", {"n": 1})
        assert (await asyncio.wait_for(console.queue.get(), 2)).body["n"] == 1
        assert await kill_pubsub_connections(url, prefix) >= 1
        for n in range(2, 6):  # published while the worker's subscription is gone
            await hub.publish("store:9", {"n": n})
        got = [(await asyncio.wait_for(console.queue.get(), 5)).body["n"] for _ in range(4)]
        await hub.publish("store:9", {"n": 6})
        got.append((await asyncio.wait_for(console.queue.get(), 5)).body["n"])
        assert got == [2, 3, 4, 5, 6]
        await asyncio.sleep(0.3)
        assert console.queue.empty()
    finally:
        await hub.close()
        cleaner = redis.Redis.from_url(url)
        keys = [k async for k in cleaner.scan_iter(f"{prefix}:*")]
        if keys:
            await cleaner.delete(*keys)
        await cleaner.aclose()
