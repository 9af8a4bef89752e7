"""Presence: whether anyone, on any worker, holds a live subscriber on a channel - what decides
that a user with an open socket gets no Web Push. Two hubs on one backend stand for two workers;
a worker that died without saying goodbye stops counting when its claim expires."""

import asyncio

import pytest

from push.broker import InProcessBroker
from push.hub import Hub
from push.redis_broker import RedisBroker
from push.redis_errors import redis_call


async def test_a_subscriber_on_any_worker_makes_the_channel_listened_to(broker):
    here, there = Hub(broker), Hub(broker)
    await here.start()
    await there.start()
    try:
        assert not await here.listening("user:ann")
        async with here.subscription("user:ann", None):
            assert await here.listening("user:ann")
            if isinstance(broker, RedisBroker):  # another worker sees it only through the backplane
                assert await there.listening("user:ann")
            second = await here.subscribe("user:ann", None)  # a second tab: leaving one keeps the other
        assert await here.listening("user:ann")
        await here.unsubscribe(second)
        assert not await here.listening("user:ann") and not await there.listening("user:ann")
    finally:
        await here.close()
        await there.close()


async def test_a_dead_workers_claim_expires_and_a_live_one_keeps_renewing_its_own(broker):
    if isinstance(broker, InProcessBroker):
        assert not await broker.held("user:bob")  # one process: the hub's own subscribers are all there is
        await broker.hold("w", ["user:bob"], 0.2)
        await broker.release("w", "user:bob")
        assert not await broker.held("user:bob")
        return
    await broker.hold("dead-worker", ["user:bob"], 0.3)  # it held bob's socket, then was killed
    assert await broker.held("user:bob")
    await asyncio.sleep(0.4)
    assert not await broker.held("user:bob")
    await broker.hold("w", [], 1.0)  # nothing to say: nothing sent

    hub = Hub(broker)
    hub.HOLD_S = 0.1  # type: ignore[misc]
    await hub.start()
    renewing = asyncio.create_task(hub.hold_every(0.1))
    try:
        async with hub.subscription("user:cat", None):
            await asyncio.sleep(0.5)  # longer than one claim (3 x 0.1 s): renewed, not expired
            assert await broker.held("user:cat")
    finally:
        renewing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await renewing
        await hub.close()


async def test_a_failing_backplane_skips_a_renewal_and_the_next_one_tries_again(caplog):
    class Failing(InProcessBroker):
        calls = 0

        async def hold(self, worker: str, channels: list[str], ttl_s: float) -> None:
            self.calls += 1
            if channels and self.calls > 1:
                raise ConnectionError("backplane away")

        async def release(self, worker: str, channel: str) -> None:
            raise ConnectionError("backplane away")

    broker = Failing()
    hub = Hub(broker)
    await hub.start()
    subscriber = await hub.subscribe("user:dan", None)
    renewing = asyncio.create_task(hub.hold_every(0.05))
    await asyncio.sleep(0.2)
    renewing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await renewing
    await hub.unsubscribe(subscriber)  # the release fails quietly: the claim expires by itself
    await hub.close()
    assert broker.calls >= 3 and "presence refresh skipped (ConnectionError)" in caplog.text


async def test_after_the_backplane_comes_back_empty_every_held_channel_is_claimed_again(broker):
    hub = Hub(broker)
    await hub.start()
    try:
        async with hub.subscription("user:eve", None):
            if isinstance(broker, RedisBroker):
                await broker.client.delete(broker._holders("user:eve"))  # Redis restarted without its data
                assert not await broker.held("user:eve")
            await hub._resync()  # what the broker calls once it has reconnected
            assert await hub.listening("user:eve")
            if isinstance(broker, RedisBroker):
                assert await broker.held("user:eve")
    finally:
        await hub.close()


async def test_a_reload_on_the_same_worker_keeps_the_channel_held(broker):
    """The last socket leaves while a new one joins (a page reload): the leaving one's release must not
    wipe the claim the joining one made."""
    hub = Hub(broker)
    await hub.start()
    release = broker.release

    async def slow_release(worker: str, channel: str) -> None:
        await asyncio.sleep(0.05)  # the new socket's claim lands first
        await release(worker, channel)

    broker.release = slow_release  # type: ignore[method-assign]
    try:
        leaving = await hub.subscribe("user:fay", None)
        _, joining = await asyncio.gather(hub.unsubscribe(leaving), hub.subscribe("user:fay", None))
        assert await hub.listening("user:fay")
        if isinstance(broker, RedisBroker):
            assert await broker.held("user:fay")
        await hub.unsubscribe(joining)
        assert not await broker.held("user:fay")
    finally:
        await hub.close()


async def test_a_socket_that_rejoins_while_a_cancelled_one_leaves_stays_held():
    """A socket closed (its task cancelled) releases its claim while the same user rejoins: the leaving
    one's clean-up must still re-hold the channel after its release, though its task was cancelled
    before (a cancellation already delivered does not cut the clean-up short)."""

    class SlowPresence(InProcessBroker):
        """Presence in a dict, each call a round trip through redis_call, as RedisBroker's are."""

        def __init__(self) -> None:
            super().__init__()
            self.holders: dict[str, set[str]] = {}

        async def hold(self, worker: str, channels: list[str], ttl_s: float) -> None:
            async def write() -> None:
                await asyncio.sleep(0.01)
                for channel in channels:
                    self.holders.setdefault(channel, set()).add(worker)
            await redis_call(write())

        async def release(self, worker: str, channel: str) -> None:
            async def zrem() -> None:
                await asyncio.sleep(0.05)
                self.holders.get(channel, set()).discard(worker)
            await redis_call(zrem())

        async def held(self, channel: str) -> bool:
            return bool(self.holders.get(channel))

    broker = SlowPresence()
    hub = Hub(broker)
    await hub.start()
    joined = asyncio.Event()

    async def old_socket() -> None:
        async with hub.subscription("user:ann", None):
            joined.set()
            await asyncio.sleep(100)

    old = asyncio.create_task(old_socket())
    await joined.wait()
    old.cancel()
    await asyncio.sleep(0.001)  # the old socket is inside its release now
    new = await hub.subscribe("user:ann", None)  # the reconnect lands meanwhile
    await asyncio.gather(old, return_exceptions=True)
    try:
        assert await broker.held("user:ann")
    finally:
        await hub.unsubscribe(new)
        await hub.close()
