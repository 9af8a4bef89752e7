"""Where a user's fence state is checkpointed, so a reconnect on any worker resumes it."""

import time
from typing import Any, Protocol

import orjson
import redis.asyncio as redis

from geo_index.fences import Fix, UserFences
from push.redis_errors import redis_call


def dump_state(state: UserFences) -> bytes:
    def fix(f: Fix | None) -> list[float] | None:
        return None if f is None else [f.lat, f.lng, f.ts, f.accuracy_m]

    return orjson.dumps({"last": fix(state.last), "previous": fix(state.previous), "inside": sorted(state.inside),
                         "pending": {str(k): v for k, v in state.pending.items()}})


def load_state(raw: bytes | str) -> UserFences:
    data: dict[str, Any] = orjson.loads(raw)

    def fix(v: list[float] | None) -> Fix | None:
        return None if v is None else Fix(*v)

    return UserFences(fix(data["last"]), fix(data["previous"]), set(data["inside"]),
                      {int(k): float(v) for k, v in data["pending"].items()})


class FenceStore(Protocol):
    async def load(self, user_id: str) -> UserFences | None: ...
    async def save(self, user_id: str, state: UserFences) -> None: ...
    async def forget(self, user_id: str) -> None: ...


class InProcessFenceStore:
    """Checkpoints expire like the Redis keys do: a state saved more than ttl_s ago is gone."""

    def __init__(self, ttl_s: float = 24 * 3600) -> None:
        self.ttl_s = ttl_s
        self._states: dict[str, tuple[float, bytes]] = {}

    async def load(self, user_id: str) -> UserFences | None:
        saved = self._states.get(user_id)
        if saved is None:
            return None
        if time.monotonic() - saved[0] > self.ttl_s:
            del self._states[user_id]
            return None
        return load_state(saved[1])

    async def save(self, user_id: str, state: UserFences) -> None:
        now = time.monotonic()
        if len(self._states) % 1024 == 0:  # now and then, drop everything expired (nobody will load it)
            self._states = {k: v for k, v in self._states.items() if now - v[0] <= self.ttl_s}
        self._states[user_id] = (now, dump_state(state))

    async def forget(self, user_id: str) -> None:
        self._states.pop(user_id, None)


class RedisFenceStore:
    """One key per user, expiring: fence state is as sensitive as a location and is not kept forever."""

    def __init__(self, client: redis.Redis, ttl_s: int = 24 * 3600, prefix: str = "lbs") -> None:
        self.client = client
        self.ttl_s = ttl_s
        self.prefix = prefix

    def _key(self, user_id: str) -> str:
        return f"{self.prefix}:fences:{{{user_id}}}"

    async def load(self, user_id: str) -> UserFences | None:
        raw = await redis_call(self.client.get(self._key(user_id)))
        return None if raw is None else load_state(raw)

    async def save(self, user_id: str, state: UserFences) -> None:
        await redis_call(self.client.set(self._key(user_id), dump_state(state), ex=self.ttl_s))

    async def forget(self, user_id: str) -> None:
        await redis_call(self.client.delete(self._key(user_id)))
