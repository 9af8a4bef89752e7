"""The broker protocol, and the in-process backend used by the embedded default.

A channel is an append-only stream capped at `retention` messages, chained by `prev` (see
messages.py). `publish` gives each message its id and wakes the hub; `replay` returns what came
after an id, in order, or None when that cannot be told (trimmed, or the id is not on this
stream's chain: the client must reset). `broadcast` reaches every worker's control handler once,
with no stream behind it: cache invalidations and erasures, which are safe to miss only because a
reconnect drops every cache (the hub's `reconnected`). `hold` says a worker has live subscribers
on channels (until `ttl_s` unless said again), `held` whether any worker has: whether a user's
socket is open anywhere, so a Web Push goes only to people whose app is closed.
"""

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from push.messages import Message

Deliver = Callable[[Message], Awaitable[None]]
Reconnected = Callable[[], Awaitable[None]]
Control = Callable[[dict[str, Any]], Awaitable[None]]
ACKABLE = frozenset({"arrival"})  # the message types a console acknowledges


class Broker(Protocol):
    """Moves channel messages between workers: publish, replay after an id, and control broadcasts."""

    async def start(self, deliver: Deliver, reconnected: Reconnected, control: Control) -> None: ...
    async def close(self) -> None: ...
    async def publish(self, channel: str, body: dict[str, Any], dedupe_key: int | None = None) -> int | None: ...
    async def publish_many(self, items: list[tuple[str, dict[str, Any], int | None]]) -> list[int | None]: ...
    async def acknowledge(self, channel: str, alert_id: int, body: dict[str, Any]) -> int | None: ...
    async def acked(self, channel: str, alert_id: int) -> bool: ...
    async def report_gauges(self, worker: str, reports: list[tuple[str, tuple[int, int, int, int]]],
                            min_interval_s: float, stale_s: float) -> list[int]: ...
    async def replay(self, channel: str, after_id: int) -> list[Message] | None: ...
    async def tail(self, channel: str, after_id: int) -> list[Message]: ...
    async def latest(self, channel: str) -> int: ...
    async def latest_many(self, channels: list[str]) -> list[int]: ...
    async def delete(self, channel: str, message_ids: list[int]) -> int: ...
    async def drop_channel(self, channel: str) -> None: ...
    async def broadcast(self, body: dict[str, Any]) -> None: ...
    async def watch(self, channel: str) -> None: ...
    async def unwatch(self, channel: str) -> None: ...
    async def healthy(self) -> bool: ...
    async def hold(self, worker: str, channels: list[str], ttl_s: float) -> None: ...
    async def release(self, worker: str, channel: str) -> None: ...
    async def held(self, channel: str) -> bool: ...


def next_id(prev: int) -> int:
    """Greater than prev, and than any id handed out before now by a stream that was lost."""
    return max(prev + 1, time.time_ns() // 1000)


class InProcessBroker:
    """Same semantics as the Redis backend, for one process."""

    def __init__(self, retention: int = 10_000) -> None:
        self.retention = retention
        self._streams: dict[str, deque[Message]] = {}
        self._last: dict[str, int] = {}
        self._relayed: dict[str, deque[int]] = {}
        self._acked: dict[str, deque[int]] = {}
        self._gauges: dict[str, dict[str, tuple[tuple[int, int, int, int], float]]] = {}
        self._gauge_sent: dict[str, tuple[tuple[int, int, int, int] | None, float]] = {}
        self._deliver: Deliver | None = None
        self._control: Control | None = None
        self._lock = asyncio.Lock()

    async def start(self, deliver: Deliver, reconnected: Reconnected, control: Control) -> None:
        self._deliver, self._control = deliver, control

    async def close(self) -> None:
        self._deliver = self._control = None

    def _append(self, channel: str, body: dict[str, Any]) -> Message:
        prev = self._last.get(channel, 0)
        message = Message(channel, next_id(prev), body, prev)
        self._last[channel] = message.id
        self._streams.setdefault(channel, deque(maxlen=self.retention)).append(message)
        return message

    async def publish(self, channel: str, body: dict[str, Any], dedupe_key: int | None = None) -> int | None:
        async with self._lock:  # id assignment and append are one step, as in the Lua script
            if dedupe_key is not None:
                taken = self._relayed.setdefault(channel, deque(maxlen=self.retention))
                if dedupe_key in taken:
                    return None
                taken.append(dedupe_key)
            message = self._append(channel, body)
        if self._deliver is not None:
            await self._deliver(message)
        return message.id

    async def publish_many(self, items: list[tuple[str, dict[str, Any], int | None]]) -> list[int | None]:
        return [await self.publish(channel, body, key) for channel, body, key in items]

    async def acknowledge(self, channel: str, alert_id: int, body: dict[str, Any]) -> int | None:
        async with self._lock:
            acked = self._acked.setdefault(channel, deque(maxlen=self.retention))
            alert = next((m for m in self._streams.get(channel, ()) if m.id == alert_id), None)
            if alert is None or alert.body.get("type") not in ACKABLE or alert_id in acked:
                return None
            acked.append(alert_id)
            message = self._append(channel, body)
        if self._deliver is not None:
            await self._deliver(message)
        return message.id

    async def acked(self, channel: str, alert_id: int) -> bool:
        return alert_id in self._acked.get(channel, ())

    async def report_gauges(self, worker: str, reports: list[tuple[str, tuple[int, int, int, int]]],
                            min_interval_s: float, stale_s: float) -> list[int]:
        results = []
        now = time.monotonic()
        for channel, counts in reports:
            gauge = self._gauges.setdefault(channel, {})
            gauge[worker] = (counts, now)
            live = [c for c, at in gauge.values() if now - at <= stale_s]
            n, a, b, c = (sum(x[k] for x in live) for k in range(4))
            total = (n, a, a + b, a + b + c)
            last, last_at = self._gauge_sent.get(channel, (None, -math.inf))
            if total == last:
                results.append(0)
            elif now - last_at < min_interval_s:
                results.append(-1)
            else:
                self._gauge_sent[channel] = (total, now)
                body = {"type": "demand", "nearby": total[0],
                        "approaching": {"5": total[1], "10": total[2], "15": total[3]}}
                results.append(await self.publish(channel, body) or 0)
        return results

    async def replay(self, channel: str, after_id: int) -> list[Message] | None:
        last = self._last.get(channel, 0)
        if after_id == last:
            return []
        missed = [m for m in self._streams.get(channel, ()) if m.id > after_id]
        if not missed or missed[0].prev != after_id:
            return None  # trimmed past what the client has, or an id this stream never gave
        return missed

    async def tail(self, channel: str, after_id: int) -> list[Message]:
        """What the stream holds after `after_id`, chain or no chain (what follows a reset)."""
        return [m for m in self._streams.get(channel, ()) if m.id > after_id]

    async def latest(self, channel: str) -> int:
        return self._last.get(channel, 0)

    async def latest_many(self, channels: list[str]) -> list[int]:
        return [self._last.get(channel, 0) for channel in channels]

    async def delete(self, channel: str, message_ids: list[int]) -> int:
        """Remove messages from a stream (erasure); the chain then breaks there and replays reset."""
        gone = set(message_ids)
        stream = self._streams.get(channel)
        if not stream or not gone:
            return 0
        kept = [m for m in stream if m.id not in gone]
        self._streams[channel] = deque(kept, maxlen=self.retention)
        return len(stream) - len(kept)

    async def drop_channel(self, channel: str) -> None:
        self._streams.pop(channel, None)
        self._relayed.pop(channel, None)
        self._acked.pop(channel, None)  # the last id stays: ids keep growing

    async def broadcast(self, body: dict[str, Any]) -> None:
        if self._control is not None:
            await self._control(body)

    async def watch(self, channel: str) -> None:
        return None

    async def unwatch(self, channel: str) -> None:
        return None

    async def healthy(self) -> bool:
        return True

    # One process: the hub's own subscribers are everyone there is.
    async def hold(self, worker: str, channels: list[str], ttl_s: float) -> None:
        return None

    async def release(self, worker: str, channel: str) -> None:
        return None

    async def held(self, channel: str) -> bool:
        return False
