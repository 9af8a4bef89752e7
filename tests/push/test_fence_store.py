import math
import uuid
from collections import deque

import numpy as np
import redis.asyncio as redis

from geo_index.fences import Fix
from geo_index.visits import VisitState
from push.fence_store import InProcessFenceStore, RedisFenceStore, dump_state, load_state, snapshot_state
from tests.push.conftest import redis_url


def _state() -> VisitState:
    return VisitState(ids=np.array([3, 9], np.int64), xyz=np.ones((2, 3)), stage=np.array([1, 3], np.int8),
                      started=np.array([90.0, 95.0]), dwell_from=np.array([math.nan, 96.0]),
                      arrived=np.array([math.nan, 97.0]), bucket=np.array([2, -1], np.int8),
                      recent=deque([Fix(31.9, 118.0, 90.0, 7.0), Fix(32.0, 118.0, 100.0, 5.0)]),
                      last=Fix(32.0, 118.0, 100.0, 5.0), index_version=42)


def _same(a: VisitState, b: VisitState) -> bool:
    arrays = ("ids", "stage", "started", "dwell_from", "arrived", "bucket")
    return all(np.array_equal(getattr(a, n), getattr(b, n), equal_nan=n in ("started", "dwell_from", "arrived"))
               for n in arrays) and list(a.recent) == list(b.recent) and a.last == b.last


async def test_visit_state_round_trips_in_both_stores():
    state = _state()
    client = redis.Redis.from_url(redis_url())
    prefix = f"lbs-test-{uuid.uuid4().hex[:8]}"
    try:
        for store in (InProcessFenceStore(), RedisFenceStore(client, ttl_s=60, prefix=prefix)):
            assert await store.load("u1") is None
            await store.save("u1", dump_state(state))
            loaded = await store.load("u1")
            assert loaded is not None and _same(loaded, state)
            assert loaded.index_version == -1  # positions come from the loading worker's index again
            await store.save_many({"u1": dump_state(VisitState()), "u3": dump_state(state)})
            assert len(await store.load("u1")) == 0 and _same(await store.load("u3"), state)
            await store.forget("u1")
            assert await store.load("u1") is None
        await RedisFenceStore(client, ttl_s=60, prefix=prefix).save("u2", dump_state(state))
        assert 0 < await client.ttl(f"{prefix}:fences:{{u2}}") <= 60  # location-derived state expires
    finally:
        keys = [k async for k in client.scan_iter(f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


def test_a_snapshot_is_what_the_state_was_when_taken_whatever_happens_after():
    state = _state()
    before = dump_state(state)
    snapshot = snapshot_state(state)
    state.stage[0] = 4  # the live state moves on: a stage changes in place, a fix arrives
    state.started[1] = 99.0
    state.recent.append(Fix(40.0, 116.0, 999.0, 5.0))
    state.last = state.recent[-1]
    assert dump_state(snapshot) == before != dump_state(state)


def test_a_checkpoint_written_before_fixes_were_objects_still_loads():
    """Checkpoints in Redis outlive a deploy: the older form ([lat, lng, ts, accuracy]) is read too."""
    older = (b'{"ids":[3,9],"stage":[1,3],"started":[90.0,95.0],"dwell_from":[null,96.0],"arrived":[null,97.0],'
             b'"bucket":[2,-1],"recent":[[31.9,118.0,90.0,7.0],[32.0,118.0,100.0,5.0]],"last":[32.0,118.0,100.0,5.0]}')
    assert _same(load_state(older), _state())
    assert _same(load_state(dump_state(_state())), _state())
