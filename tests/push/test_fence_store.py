import uuid

import redis.asyncio as redis

from geo_index.fences import Fix, UserFences
from push.fence_store import InProcessFenceStore, RedisFenceStore
from tests.push.conftest import redis_url


async def test_fence_state_round_trips_in_both_stores():
    state = UserFences(Fix(32.0, 118.0, 100.0, 5.0), Fix(31.9, 118.0, 90.0, 7.0), {3, 1}, {9: 95.0})
    client = redis.Redis.from_url(redis_url())
    prefix = f"lbs-test-{uuid.uuid4().hex[:8]}"
    try:
        for store in (InProcessFenceStore(), RedisFenceStore(client, ttl_s=60, prefix=prefix)):
            assert await store.load("u1") is None
            await store.save("u1", state)
            assert await store.load("u1") == state
            await store.forget("u1")
            assert await store.load("u1") is None
        await RedisFenceStore(client, ttl_s=60, prefix=prefix).save("u2", state)
        assert 0 < await client.ttl(f"{prefix}:fences:{{u2}}") <= 60  # location-derived state expires
    finally:
        keys = [k async for k in client.scan_iter(f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
