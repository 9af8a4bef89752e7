"""Local subscribers of one worker, each with a bounded queue.

A subscriber that stops reading fills its queue and is marked overflowed (the socket layer
closes it with 4008); the others are unaffected and memory stays bounded. Joining with a last
id first replays the stream, while live messages wait in a bounded buffer, so nothing is lost
or repeated across the switch-over.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from push.broker import Broker
from push.messages import Message

log = logging.getLogger(__name__)


class Subscriber:
    def __init__(self, channel: str, limit: int) -> None:
        self.channel = channel
        self.limit = limit
        self.queue: asyncio.Queue[Message] = asyncio.Queue(limit)
        self.last_id = 0
        self.overflowed = asyncio.Event()
        self.on_overflow: Callable[[], None] | None = None  # e.g. close the socket, without a waiting task
        self._held: list[Message] | None = []  # live messages that arrive during the replay

    def offer(self, message: Message) -> None:
        if self.overflowed.is_set() or message.id <= self.last_id:
            return  # already delivered (replay and live overlap) or the consumer is being closed
        if self._held is not None:
            if len(self._held) >= self.limit:
                self._overflow()
            else:
                self._held.append(message)
            return
        try:
            self.queue.put_nowait(message)
            self.last_id = message.id
        except asyncio.QueueFull:
            self._overflow()

    def _overflow(self) -> None:
        self.overflowed.set()
        if self.on_overflow is not None:
            self.on_overflow()

    def replayed(self, missed: list[Message]) -> None:
        """Deliver what the stream had, ahead of anything held back meanwhile."""
        held, self._held = self._held, None
        for message in missed:
            self.offer(message)
        self._held = held

    @property
    def live(self) -> bool:
        """Past its replay: last_id is what it has really been given."""
        return self._held is None

    def go_live(self) -> None:
        held, self._held = self._held or [], None
        for message in sorted(held, key=lambda m: m.id):
            self.offer(message)


class Hub:
    def __init__(self, broker: Broker, queue_limit: int = 1000) -> None:
        self.broker = broker
        self.queue_limit = queue_limit
        self._subscribers: dict[str, set[Subscriber]] = {}

    async def start(self) -> None:
        await self.broker.start(self._deliver, self._resync)

    async def close(self) -> None:
        await self.broker.close()

    @property
    def connections(self) -> int:
        return sum(len(s) for s in self._subscribers.values())

    async def subscribe(self, channel: str, last_id: int | None) -> tuple[Subscriber, bool]:
        """Join a channel; with last_id, everything after it comes first. Returns (subscriber, reset)."""
        subscriber = Subscriber(channel, self.queue_limit)
        subscribers = self._subscribers.setdefault(channel, set())
        if not subscribers:
            await self.broker.watch(channel)
        subscribers.add(subscriber)
        try:
            missed = None if last_id is None else await self.broker.replay(channel, last_id)
            reset = last_id is not None and missed is None
            if missed is None:  # a fresh join, or a reset: live messages from now on, no history
                subscriber.last_id = await self.broker.latest(channel)
            else:
                subscriber.last_id = last_id or 0
                subscriber.replayed(missed)
        except BaseException:  # the backplane failed mid-join: leave nothing registered behind
            await self.unsubscribe(subscriber)
            raise
        subscriber.go_live()
        return subscriber, reset

    async def unsubscribe(self, subscriber: Subscriber) -> None:
        subscribers = self._subscribers.get(subscriber.channel)
        if subscribers is None:
            return
        subscribers.discard(subscriber)
        if not subscribers:
            del self._subscribers[subscriber.channel]
            await self.broker.unwatch(subscriber.channel)

    async def publish(self, channel: str, body: dict[str, Any], dedupe_key: int | None = None) -> int | None:
        return await self.broker.publish(channel, body, dedupe_key)

    async def publish_many(self, items: list[tuple[str, dict[str, Any], int | None]]) -> list[int | None]:
        return await self.broker.publish_many(items)

    async def _deliver(self, message: Message) -> None:
        subscribers = tuple(self._subscribers.get(message.channel, ()))
        behind = min((s.last_id for s in subscribers if s.live), default=message.id - 1)
        if message.id > behind + 1:  # a wake-up went missing (pub/sub is not durable): read the gap
            with contextlib.suppress(Exception):
                for missed in await self.broker.replay(message.channel, behind) or []:
                    for subscriber in subscribers:
                        subscriber.offer(missed)
        for subscriber in subscribers:
            subscriber.offer(message)

    async def reconcile(self) -> int:
        """Compare every watched channel with its stream and deliver what pub/sub never announced
        (the last message before a wake-up was lost has no later one to reveal the gap)."""
        channels = list(self._subscribers)
        caught_up = 0
        for channel, newest in zip(channels, await self.broker.latest_many(channels), strict=True):
            subscribers = tuple(self._subscribers.get(channel, ()))
            behind = min((s.last_id for s in subscribers if s.live), default=newest)
            if newest > behind:
                for missed in await self.broker.replay(channel, behind) or []:
                    caught_up += 1
                    for subscriber in subscribers:
                        subscriber.offer(missed)
        return caught_up

    async def reconcile_every(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                found = await self.reconcile()
                if found:
                    log.warning("%d messages reached this worker by reconciliation, not pub/sub", found)
            except Exception as error:  # the backplane is away: the next round tries again
                log.warning("reconciliation skipped (%s)", type(error).__name__)

    async def _resync(self) -> None:
        """After the broker reconnects: fetch from the streams whatever was published meanwhile."""
        for channel, subscribers in list(self._subscribers.items()):
            since = min((s.last_id for s in subscribers), default=0)
            missed = await self.broker.replay(channel, since) or []
            for message in missed:
                for subscriber in tuple(subscribers):
                    subscriber.offer(message)
