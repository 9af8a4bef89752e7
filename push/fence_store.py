"""Where a user's visit state is checkpointed, so a reconnect on any worker resumes it.

The state is sensitive (it holds the user's last positions): keys expire after the fix retention,
and an erasure deletes them. Stores are kept by id only; a loaded state takes their positions from
the worker's index again (VisitState.index_version = -1), which also drops stores that are gone.
"""

import math
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import orjson
import redis.asyncio as redis

from geo_index.fences import Fix
from geo_index.visits import VisitState
from push.redis_errors import redis_call


def _fix(f: list[float] | dict[str, float]) -> Fix:
    """A fix as dump_state wrote it: an object (orjson writes the dataclass itself, in Rust - per
    fix in Python this was the checkpoint's main cost), or the [lat, lng, ts, accuracy] of older
    checkpoints."""
    return Fix(**f) if isinstance(f, dict) else Fix(*f)


def _nan_to_none(values: np.ndarray) -> list[float | None]:
    return [None if math.isnan(v) else v for v in values.tolist()]


def dump_state(state: VisitState) -> bytes:
    return orjson.dumps({
        "ids": state.ids.tolist(), "stage": state.stage.tolist(), "started": _nan_to_none(state.started),
        "dwell_from": _nan_to_none(state.dwell_from), "arrived": _nan_to_none(state.arrived),
        "bucket": state.bucket.tolist(), "recent": list(state.recent), "last": state.last})


def snapshot_state(state: VisitState) -> VisitState:
    """A copy of what dump_state writes, taken now and serialised later (at the checkpoint flush): the
    live state moves on meanwhile, and only a user's newest snapshot is ever serialised."""
    return VisitState(ids=state.ids.copy(), stage=state.stage.copy(), started=state.started.copy(),
                      dwell_from=state.dwell_from.copy(), arrived=state.arrived.copy(), bucket=state.bucket.copy(),
                      recent=deque(state.recent), last=state.last, index_version=state.index_version)


def load_state(raw: bytes | str) -> VisitState:
    data: dict[str, Any] = orjson.loads(raw)

    def floats(values: list[float | None]) -> np.ndarray:
        return np.array([math.nan if v is None else v for v in values], dtype=np.float64)

    n = len(data["ids"])
    return VisitState(
        ids=np.array(data["ids"], dtype=np.int64), xyz=np.zeros((n, 3)), stage=np.array(data["stage"], np.int8),
        started=floats(data["started"]), dwell_from=floats(data["dwell_from"]), arrived=floats(data["arrived"]),
        bucket=np.array(data["bucket"], np.int8), recent=deque(_fix(f) for f in data["recent"]),
        last=None if data["last"] is None else _fix(data["last"]), index_version=-1)


class FenceStore(Protocol):
    """Where users' visit states are checkpointed between fixes and workers."""

    async def load(self, user_id: str) -> VisitState | None: ...
    async def save(self, user_id: str, raw: bytes) -> None: ...
    async def save_many(self, states: dict[str, bytes]) -> None: ...
    async def forget(self, user_id: str) -> None: ...


class InProcessFenceStore:
    """Checkpoints expire like the Redis keys do: a state saved more than ttl_s ago is gone."""

    def __init__(self, ttl_s: float = 24 * 3600, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s, self._clock = ttl_s, clock
        self._states: dict[str, tuple[float, bytes]] = {}

    async def load(self, user_id: str) -> VisitState | None:
        saved = self._states.get(user_id)
        if saved is None:
            return None
        if self._clock() - saved[0] > self.ttl_s:
            del self._states[user_id]
            return None
        return load_state(saved[1])

    async def save(self, user_id: str, raw: bytes) -> None:
        now = self._clock()
        if len(self._states) % 1024 == 0:  # now and then, drop everything expired (nobody will load it)
            self._states = {k: v for k, v in self._states.items() if now - v[0] <= self.ttl_s}
        self._states[user_id] = (now, raw)

    async def save_many(self, states: dict[str, bytes]) -> None:
        for user_id, raw in states.items():
            await self.save(user_id, raw)

    async def forget(self, user_id: str) -> None:
        self._states.pop(user_id, None)


class RedisFenceStore:
    """One key per user, expiring: visit state is as sensitive as a location and is not kept forever."""

    def __init__(self, client: redis.Redis, ttl_s: int = 24 * 3600, prefix: str = "lbs") -> None:
        self.client = client
        self.ttl_s = ttl_s
        self.prefix = prefix

    def _key(self, user_id: str) -> str:
        return f"{self.prefix}:fences:{{{user_id}}}"

    async def load(self, user_id: str) -> VisitState | None:
        raw = await redis_call(self.client.get(self._key(user_id)))
        return None if raw is None else load_state(raw)

    async def save(self, user_id: str, raw: bytes) -> None:
        await redis_call(self.client.set(self._key(user_id), raw, ex=self.ttl_s))

    async def save_many(self, states: dict[str, bytes]) -> None:
        """One round trip for many users (each key on its own node of a cluster)."""
        if not states:
            return

        async def run() -> None:
            async with self.client.pipeline(transaction=False) as pipe:
                for user_id, raw in states.items():
                    pipe.set(self._key(user_id), raw, ex=self.ttl_s)
                await pipe.execute()

        await redis_call(run())

    async def forget(self, user_id: str) -> None:
        await redis_call(self.client.delete(self._key(user_id)))
