"""The broker protocol, and the in-process backend used by the embedded default.

A channel is an append-only stream capped at `retention` messages. `publish` gives each
message the next id of its channel and wakes the hub; `replay` returns what came after an id,
in order, or None when part of that is gone (the client must reload: a `reset`).
"""

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from push.messages import Message

Deliver = Callable[[Message], Awaitable[None]]
Reconnected = Callable[[], Awaitable[None]]


class Broker(Protocol):
    async def start(self, deliver: Deliver, reconnected: Reconnected) -> None: ...
    async def close(self) -> None: ...
    async def publish(self, channel: str, body: dict[str, Any], dedupe_key: int | None = None) -> int | None: ...
    async def publish_many(self, items: list[tuple[str, dict[str, Any], int | None]]) -> list[int | None]: ...
    async def replay(self, channel: str, after_id: int) -> list[Message] | None: ...
    async def latest(self, channel: str) -> int: ...
    async def latest_many(self, channels: list[str]) -> list[int]: ...
    async def watch(self, channel: str) -> None: ...
    async def unwatch(self, channel: str) -> None: ...
    async def healthy(self) -> bool: ...


class InProcessBroker:
    """Same semantics as the Redis backend, for one process."""

    def __init__(self, retention: int = 10_000) -> None:
        self.retention = retention
        self._streams: dict[str, deque[Message]] = {}
        self._next_id: dict[str, int] = {}
        self._relayed: dict[str, deque[int]] = {}
        self._deliver: Deliver | None = None
        self._lock = asyncio.Lock()

    async def start(self, deliver: Deliver, reconnected: Reconnected) -> None:
        self._deliver = deliver

    async def close(self) -> None:
        self._deliver = None

    async def publish(self, channel: str, body: dict[str, Any], dedupe_key: int | None = None) -> int | None:
        async with self._lock:  # id assignment and append are one step, as in the Lua script
            if dedupe_key is not None:
                taken = self._relayed.setdefault(channel, deque(maxlen=self.retention))
                if dedupe_key in taken:
                    return None
                taken.append(dedupe_key)
            message_id = self._next_id.get(channel, 0) + 1
            self._next_id[channel] = message_id
            message = Message(channel, message_id, body)
            self._streams.setdefault(channel, deque(maxlen=self.retention)).append(message)
        if self._deliver is not None:
            await self._deliver(message)
        return message_id

    async def publish_many(self, items: list[tuple[str, dict[str, Any], int | None]]) -> list[int | None]:
        return [await self.publish(channel, body, key) for channel, body, key in items]

    async def replay(self, channel: str, after_id: int) -> list[Message] | None:
        stream = self._streams.get(channel, deque())
        last = self._next_id.get(channel, 0)
        if after_id > last:
            return None  # an id this channel never gave: the client's view is from elsewhere
        if after_id == last:
            return []
        if not stream or stream[0].id > after_id + 1:
            return None  # trimmed past what the client has
        return [m for m in stream if m.id > after_id]

    async def latest(self, channel: str) -> int:
        return self._next_id.get(channel, 0)

    async def latest_many(self, channels: list[str]) -> list[int]:
        return [self._next_id.get(channel, 0) for channel in channels]

    async def watch(self, channel: str) -> None:
        return None

    async def unwatch(self, channel: str) -> None:
        return None

    async def healthy(self) -> bool:
        return True
