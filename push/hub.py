"""Local subscribers of one worker, each with a bounded queue.

A subscriber that stops reading fills its queue and is marked overflowed (the socket layer
closes it with 4008); the others are unaffected and memory stays bounded. Joining with a last
id first replays the stream, while live messages wait in a bounded buffer, so nothing is lost
or repeated across the switch-over.

Messages are chained (messages.py): a subscriber takes a message whose `prev` is the last id it
has. Anything else is a gap, read from the stream; a gap the stream cannot fill (the stream was
lost or rewound) puts a reset notice in the queue, never silence.
"""

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from push.broker import Broker
from push.messages import Message

log = logging.getLogger(__name__)
RESET_TAIL = 200  # after a reset, at most this many of the newest messages follow (a reload, not a flood)
ControlHandler = Callable[[dict[str, Any]], Awaitable[None]]


class Subscriber:
    """One socket's view of a channel: a bounded queue that replays, then goes live without gaps or repeats."""

    def __init__(self, channel: str, limit: int) -> None:
        self.channel = channel
        self.limit = limit
        self.queue: asyncio.Queue[Message] = asyncio.Queue(limit)
        self.last_id = 0
        self.resets = 0
        self.overflowed = asyncio.Event()
        self.on_overflow: Callable[[], None] | None = None  # e.g. close the socket, without a waiting task
        self._held: list[Message] | None = []  # live messages that arrive during the replay

    def follows(self, message: Message) -> bool:
        """True when `message` comes right after what this subscriber has."""
        return message.prev == self.last_id

    def offer(self, message: Message) -> None:
        if self.overflowed.is_set() or message.id <= self.last_id:
            return  # already delivered (replay and live overlap) or the consumer is being closed
        if self._held is not None:
            if len(self._held) >= self.limit:
                self._overflow()
            else:
                self._held.append(message)
            return
        self._put(message)
        self.last_id = message.id

    def reset(self, resume_after: int) -> None:
        """Tell the consumer that what came before is gone; continue after `resume_after`."""
        self.resets += 1
        self._put(Message.reset(self.channel))
        self.last_id = resume_after

    def _put(self, message: Message) -> None:
        try:
            self.queue.put_nowait(message)
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
            if message.id > self.last_id and not self.follows(message):
                continue  # the replay reset past it or the stream moved on: the catch-up reads it again
            self.offer(message)


class Hub:
    """The worker's subscribers by channel, fed by the broker, with replay and reconciliation after a reconnect."""

    HOLD_S = 20.0  # how often this worker says again which channels it holds (they expire after 3x that)

    def __init__(self, broker: Broker, queue_limit: int = 1000) -> None:
        self.broker = broker
        self.queue_limit = queue_limit
        self.worker = uuid.uuid4().hex[:16]
        self._subscribers: dict[str, set[Subscriber]] = {}
        self._control_handlers: list[ControlHandler] = []
        self._reconnect_handlers: list[Callable[[], Awaitable[None]]] = []

    async def start(self) -> None:
        await self.broker.start(self._deliver, self._resync, self._control)

    async def close(self) -> None:
        await self.broker.close()

    @property
    def connections(self) -> int:
        return sum(len(s) for s in self._subscribers.values())

    # ---- control messages (cache invalidations, erasures): every worker, no stream ------------
    def on_control(self, handler: ControlHandler) -> None:
        self._control_handlers.append(handler)

    def on_reconnect(self, handler: Callable[[], Awaitable[None]]) -> None:
        """Called after the backplane came back: control messages may have been missed meanwhile."""
        self._reconnect_handlers.append(handler)

    async def broadcast(self, body: dict[str, Any]) -> None:
        await self.broker.broadcast(body)

    async def _control(self, body: dict[str, Any]) -> None:
        for handler in self._control_handlers:
            try:
                await handler(body)
            except Exception:  # one handler's failure must not starve the others
                log.exception("control message handler failed")

    # ---- subscribing ---------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def subscription(self, channel: str, last_id: int | None) -> AsyncIterator[Subscriber]:
        """Join a channel for the duration of the block; with last_id, what came after it comes first
        (or a reset notice, when the stream can no longer tell)."""
        subscriber = await self.subscribe(channel, last_id)
        try:
            yield subscriber
        finally:
            await self.unsubscribe(subscriber)

    async def subscribe(self, channel: str, last_id: int | None) -> Subscriber:
        subscriber = Subscriber(channel, self.queue_limit)
        subscribers = self._subscribers.setdefault(channel, set())
        if not subscribers:
            await self.broker.watch(channel)
        subscribers.add(subscriber)
        try:
            await self.broker.hold(self.worker, [channel], 3 * self.HOLD_S)
            missed = None if last_id is None else await self.broker.replay(channel, last_id)
            if last_id is None:  # a fresh join: live messages from now on, no history
                subscriber.last_id = await self.broker.latest(channel)
            elif missed is None:  # the stream cannot tell what came after last_id: reset, then what it holds
                subscriber.replayed(await self._restart(channel, subscriber, last_id))
            else:
                subscriber.last_id = last_id
                subscriber.replayed(missed)
        except BaseException:  # the backplane failed mid-join: leave nothing registered behind
            await self.unsubscribe(subscriber)
            raise
        subscriber.go_live()
        return subscriber

    async def unsubscribe(self, subscriber: Subscriber) -> None:
        subscribers = self._subscribers.get(subscriber.channel)
        if subscribers is None or subscriber not in subscribers:
            return
        subscribers.discard(subscriber)
        if not subscribers:
            del self._subscribers[subscriber.channel]
            await self.broker.unwatch(subscriber.channel)
            with contextlib.suppress(Exception):  # the backplane is away: the entry expires by itself
                await self.broker.release(self.worker, subscriber.channel)
                if subscriber.channel in self._subscribers:  # a socket joined meanwhile (a reload): still held
                    await self.broker.hold(self.worker, [subscriber.channel], 3 * self.HOLD_S)

    # ---- presence: is anyone listening on a channel, on any worker -----------------------
    async def listening(self, channel: str) -> bool:
        return bool(self._subscribers.get(channel)) or await self.broker.held(channel)

    async def hold_every(self, interval_s: float | None = None) -> None:
        """Say again, now and then, which channels this worker holds (a dead worker's claims expire)."""
        interval = interval_s or self.HOLD_S
        while True:
            await asyncio.sleep(interval)
            try:
                await self._hold_all(3 * interval)
            except Exception as error:  # the backplane is away: the next round says it again
                log.warning("presence refresh skipped (%s)", type(error).__name__)

    async def _hold_all(self, ttl_s: float) -> None:
        channels = list(self._subscribers)
        for begin in range(0, len(channels), 1000):
            await self.broker.hold(self.worker, channels[begin:begin + 1000], ttl_s)

    # ---- publishing ----------------------------------------------------------------------
    async def publish(self, channel: str, body: dict[str, Any], dedupe_key: int | None = None) -> int | None:
        return await self.broker.publish(channel, body, dedupe_key)

    async def publish_many(self, items: list[tuple[str, dict[str, Any], int | None]]) -> list[int | None]:
        return await self.broker.publish_many(items)

    async def acknowledge(self, channel: str, alert_id: int, body: dict[str, Any]) -> int | None:
        """Publish `body` as the acknowledgement of `alert_id`, once, if that alert is on the channel."""
        return await self.broker.acknowledge(channel, alert_id, body)

    async def acked(self, channel: str, alert_id: int) -> bool:
        return await self.broker.acked(channel, alert_id)

    async def report_gauges(self, worker: str, reports: list[tuple[str, tuple[int, int, int, int]]],
                            min_interval_s: float, stale_s: float) -> list[int]:
        return await self.broker.report_gauges(worker, reports, min_interval_s, stale_s)

    # ---- delivery and catching up ----------------------------------------------------------
    async def _deliver(self, message: Message) -> None:
        subscribers = tuple(self._subscribers.get(message.channel, ()))
        behind = [s for s in subscribers if s.live and message.id > s.last_id and not s.follows(message)]
        if behind:  # a wake-up went missing (pub/sub is not durable), or the stream started over
            with contextlib.suppress(Exception):
                await self._catch_up(message.channel, behind)
        for subscriber in subscribers:
            if not subscriber.live or subscriber.follows(message):  # the rest caught up above, or will
                subscriber.offer(message)

    async def _catch_up(self, channel: str, subscribers: tuple[Subscriber, ...] | list[Subscriber]) -> int:
        """Fill each subscriber's gap from the stream, or reset it when the stream cannot."""
        delivered = 0
        by_position: dict[int, list[Subscriber]] = {}
        for subscriber in subscribers:
            if subscriber.live:
                by_position.setdefault(subscriber.last_id, []).append(subscriber)
        for after_id, group in by_position.items():
            missed = await self.broker.replay(channel, after_id)
            if missed is None:
                log.warning("a %s channel could not be replayed after %d: reset", channel.split(":")[0], after_id)
                for subscriber in group:
                    missed = await self._restart(channel, subscriber, after_id)
            for message in missed or []:
                delivered += 1
                for subscriber in group:
                    subscriber.offer(message)
        return delivered

    async def _restart(self, channel: str, subscriber: Subscriber, after_id: int) -> list[Message]:
        """Reset a subscriber whose chain broke (trimmed, lost, rewound), resuming where the stream's own
        chain picks up after `after_id`: a notice, then every message the stream holds from there."""
        tail = (await self.broker.tail(channel, after_id))[-RESET_TAIL:]
        subscriber.reset(tail[0].prev if tail else await self.broker.latest(channel))
        return tail

    async def reconcile(self) -> int:
        """Compare every watched channel with its stream and deliver what pub/sub never announced
        (the last message before a wake-up was lost has no later one to reveal the gap)."""
        channels = list(self._subscribers)
        caught_up = 0
        for channel, newest in zip(channels, await self.broker.latest_many(channels), strict=True):
            behind = [s for s in self._subscribers.get(channel, ()) if s.live and s.last_id != newest]
            if behind:
                caught_up += await self._catch_up(channel, behind)
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
        """After the broker reconnects: fetch from the streams whatever was published meanwhile
        (or reset those whose stream was lost), and let caches drop what they may have missed."""
        for channel, subscribers in list(self._subscribers.items()):
            await self._catch_up(channel, list(subscribers))
        with contextlib.suppress(Exception):  # a Redis that restarted empty forgot who listens where
            await self._hold_all(3 * self.HOLD_S)
        for handler in self._reconnect_handlers:
            await handler()
