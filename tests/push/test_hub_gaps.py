"""Pub/sub is only a wake-up: when one goes missing, the hub still delivers every message, in
order, from the stream: at the next message of the channel (a gap in the ids) or, for the last
one, at the next reconciliation."""

import asyncio

import pytest

from push.broker import InProcessBroker
from push.hub import Hub
from push.messages import Message


class LossyBroker(InProcessBroker):
    """Announces every message except those whose (channel, body "n") is listed."""

    def __init__(self, lose: set[tuple[str, int]]) -> None:
        super().__init__()
        self.lose = lose

    async def start(self, deliver, reconnected, control) -> None:
        async def lossy(message: Message) -> None:
            if (message.channel, message.body.get("n")) not in self.lose:
                await deliver(message)

        await super().start(lossy, reconnected, control)


def _drain(queue: asyncio.Queue) -> list[int]:
    numbers = []
    while not queue.empty():
        numbers.append(queue.get_nowait().body["n"])
    return numbers


def test_a_lost_wake_up_is_filled_from_the_stream_in_order():
    async def run() -> tuple[list[int], list[int], int]:
        hub = Hub(LossyBroker({("store:1", 2), ("store:1", 5)}))
        await hub.start()
        subscriber = await hub.subscribe("store:1", None)
        for n in range(1, 4):
            await hub.publish("store:1", {"n": n})
        after_gap = _drain(subscriber.queue)
        await hub.publish("store:1", {"n": 4})
        await hub.publish("store:1", {"n": 5})  # the last one, lost: nothing after it reveals it
        before = _drain(subscriber.queue)
        found = await hub.reconcile()
        return after_gap, before + _drain(subscriber.queue), found

    after_gap, rest, found = asyncio.run(run())
    assert after_gap == [1, 2, 3]  # 2 was never announced; 3 revealed the gap
    assert rest == [4, 5] and found == 1  # 5 came by reconciliation


def test_reconciliation_finds_nothing_when_nothing_was_lost():
    async def run() -> tuple[list[int], int]:
        hub = Hub(InProcessBroker())
        await hub.start()
        subscriber = await hub.subscribe("store:2", None)
        for n in range(3):
            await hub.publish("store:2", {"n": n})
        return _drain(subscriber.queue), await hub.reconcile()

    assert asyncio.run(run()) == ([0, 1, 2], 0)


class BrokenReplayBroker(InProcessBroker):
    async def replay(self, channel, after_id):
        raise ConnectionError("backplane away")


def test_a_join_that_fails_halfway_leaves_no_subscriber_behind():
    async def run() -> int:
        hub = Hub(BrokenReplayBroker())
        await hub.start()
        await hub.publish("store:3", {"n": 1})
        with pytest.raises(ConnectionError):
            await hub.subscribe("store:3", 5)
        return hub.connections

    assert asyncio.run(run()) == 0


def test_a_stream_that_went_back_in_time_resets_its_subscribers_and_delivers_what_follows():
    """A failover to a replica that is behind: the stream's chain continues from an older message.
    Ids still grow (they follow the clock), so nothing new is mistaken for a repeat; the broken chain
    tells every subscriber to reset, and what is published afterwards reaches them."""

    async def run() -> tuple[list[str], int]:
        broker = InProcessBroker()
        hub = Hub(broker)
        await hub.start()
        subscriber = await hub.subscribe("store:4", None)
        for n in range(3):
            await hub.publish("store:4", {"n": n})
        snapshot = list(broker._streams["store:4"])[:1]  # the replica saw only the first message
        broker._streams["store:4"].clear()
        broker._streams["store:4"].extend(snapshot)
        broker._last["store:4"] = snapshot[-1].id
        await hub.publish("store:4", {"n": 10})
        await hub.publish("store:4", {"n": 11})
        kinds = []
        while not subscriber.queue.empty():
            message = subscriber.queue.get_nowait()
            kinds.append("reset" if message.is_reset else str(message.body["n"]))
        return kinds, subscriber.resets

    kinds, resets = asyncio.run(run())
    assert kinds == ["0", "1", "2", "reset", "10", "11"] and resets == 1
