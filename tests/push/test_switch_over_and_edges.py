"""A subscriber's switch-over from replay to live (nothing lost, nothing twice, bounded while it
waits), and the edges of the brokers and stores: empty batches, health, a script the server lost
mid-batch, a torn connection, a failing control handler."""

import asyncio
import logging
import uuid

import pytest
import redis.asyncio as redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError

from geo_index.visits import VisitState
from push.broker import InProcessBroker
from push.fence_store import InProcessFenceStore, RedisFenceStore, dump_state
from push.hub import Hub, Subscriber
from push.messages import Message, decode_body, store_channel, user_channel
from push.redis_broker import RedisBroker
from push.redis_errors import RedisConnectionError, redis_call
from tests.push.conftest import redis_url


def _message(n: int, prev: int | None = None) -> Message:
    return Message("store:1", n, {"n": n}, n - 1 if prev is None else prev)


def _drain(subscriber: Subscriber) -> list[int]:
    out = []
    while not subscriber.queue.empty():
        out.append(subscriber.queue.get_nowait().id)
    return out


async def test_live_messages_wait_out_the_replay_and_follow_it_once_in_order():
    subscriber = Subscriber("store:1", limit=10)
    subscriber.offer(_message(2))  # live, while the replay is still being read: held back
    subscriber.offer(_message(3))
    assert _drain(subscriber) == [] and not subscriber.live
    subscriber.replayed([_message(1), _message(2)])  # the replay overlaps what was held
    subscriber.go_live()
    assert _drain(subscriber) == [1, 2, 3] and subscriber.live and subscriber.last_id == 3


async def test_a_held_message_past_a_gap_is_left_to_the_catch_up():
    subscriber = Subscriber("store:1", limit=10)
    subscriber.offer(_message(5))  # its predecessor 4 is neither held nor replayed
    subscriber.replayed([_message(1), _message(2)])
    subscriber.go_live()
    assert _drain(subscriber) == [1, 2] and subscriber.last_id == 2  # the gap is read from the stream later


async def test_a_subscriber_that_waits_too_long_overflows_instead_of_growing():
    closed = []
    subscriber = Subscriber("store:1", limit=2)
    subscriber.on_overflow = lambda: closed.append(True)
    for n in (1, 2, 3):
        subscriber.offer(_message(n))
    assert subscriber.overflowed.is_set() and closed == [True]
    subscriber.offer(_message(4))  # a closing subscriber takes nothing more
    subscriber.go_live()
    assert _drain(subscriber) == []


async def test_a_failing_control_handler_does_not_starve_the_others(caplog):
    hub = Hub(InProcessBroker())
    await hub.start()
    seen = []

    async def failing(body):
        raise RuntimeError("handler bug")

    async def recording(body):
        seen.append(body)

    hub.on_control(failing)
    hub.on_control(recording)
    with caplog.at_level(logging.ERROR, logger="push.hub"):
        await hub.broadcast({"type": "revoke"})
        for _ in range(50):
            if seen:
                break
            await asyncio.sleep(0.01)
    assert seen == [{"type": "revoke"}] and "control message handler failed" in caplog.text
    stranger = Subscriber("store:9", 10)
    await hub.unsubscribe(stranger)  # never subscribed here: nothing to undo, nothing raised
    await hub.close()


async def test_empty_batches_and_deletes_cost_nothing(broker):
    assert await broker.publish_many([]) == []
    assert await broker.report_gauges("w", [], 1.0, 10.0) == []
    assert await broker.delete("store:404", [1, 2]) == 0
    first = await broker.publish("store:1", {"n": 1})
    assert await broker.delete("store:1", []) == 0 and first is not None
    assert await broker.healthy() is True


async def test_a_broker_without_its_server_says_it_is_not_healthy():
    with socket_closed_port() as port:
        broker = RedisBroker(f"redis://127.0.0.1:{port}/0", retention=10, prefix="gone")
        assert await broker.healthy() is False
        await broker.client.aclose()


async def test_a_script_the_server_lost_mid_batch_is_loaded_again_and_nothing_doubles(monkeypatch):
    """A server restarted empty between the pipeline's script check and its calls: every call of the
    batch fails, so the batch is sent again after loading the script, and each message lands once."""
    prefix = f"lbs-test-{uuid.uuid4().hex[:8]}"
    broker = RedisBroker(redis_url(), retention=50, prefix=prefix)
    original, flushed = Pipeline.load_scripts, []

    async def load_then_lose(pipe):
        await original(pipe)
        if not flushed:
            flushed.append(True)
            await broker.client.script_flush()

    monkeypatch.setattr(Pipeline, "load_scripts", load_then_lose)
    try:
        ids = await broker.publish_many([("store:1", {"n": n}, None) for n in range(5)])
        assert flushed and len(ids) == 5 and ids == sorted(set(ids)) and None not in ids
        assert [m.body["n"] for m in await broker.replay("store:1", 0)] == [0, 1, 2, 3, 4]
    finally:
        cleaner = redis.Redis.from_url(redis_url())
        keys = [k async for k in cleaner.scan_iter(f"{prefix}:*")]
        if keys:
            await cleaner.delete(*keys)
        await cleaner.aclose()
        await broker.client.aclose()


async def test_a_torn_connection_becomes_a_redis_connection_error():
    async def torn():
        raise OSError("connection reset")

    with pytest.raises(RedisConnectionError):
        await redis_call(torn())


async def test_a_cancellation_the_client_swallows_still_cancels_the_task():
    """A command that was in flight when its task was cancelled can end normally (the client swallowed
    the CancelledError): the task is cancelled all the same, so a renewal loop ends (it once did not,
    and a test run waited for it for good)."""
    started = asyncio.Event()
    swallowed = []

    async def command() -> str:
        started.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            if swallowed:  # only once: without the guard this test fails instead of hanging
                raise
            swallowed.append(True)
            return "answered anyway"
        return "never"

    async def renewing() -> None:
        while True:
            await redis_call(command())

    task = asyncio.create_task(renewing())
    await started.wait()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2)
    assert task in done and task.cancelled() and swallowed


async def test_a_cancelled_call_is_cancelled_and_a_redis_error_cannot_hide_a_cancellation():
    """A cancellation the client lets through stays a cancellation; one it turns into a RedisError
    (a read torn by the cancel) cancels the task all the same; a RedisError alone is an outage."""
    async def waits() -> None:
        await asyncio.sleep(10)

    async def errs_when_cancelled() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            raise RedisError("connection closed mid-read") from None

    async def errs() -> None:
        raise RedisError("READONLY")

    for command in (waits, errs_when_cancelled):
        task = asyncio.create_task(redis_call(command()))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    with pytest.raises(RedisError):
        await redis_call(errs())


async def test_saving_no_states_makes_no_call():
    class Unreachable:
        def __getattr__(self, name):
            raise AssertionError(f"saving nothing called redis: {name}")

    store = RedisFenceStore(Unreachable(), prefix="unused")  # type: ignore[arg-type]
    await store.save_many({})
    with pytest.raises(AssertionError):
        await store.save_many({"u": b"{}"})  # the stub does catch a call


async def test_an_in_process_checkpoint_expires_on_its_clock():
    now = [0.0]
    store = InProcessFenceStore(ttl_s=10, clock=lambda: now[0])
    await store.save("u", dump_state(VisitState()))
    now[0] = 10.0
    assert await store.load("u") is not None
    now[0] = 10.5
    assert await store.load("u") is None


def test_a_message_body_is_a_json_object():
    assert decode_body(b'{"type": "arrival"}') == {"type": "arrival"}
    with pytest.raises(ValueError):
        decode_body(b"[1, 2]")


class socket_closed_port:  # noqa: N801 (used as a context manager)
    """A loopback port nothing listens on."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return int(probe.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        return None


async def test_deleted_messages_and_dropped_channels_are_gone_and_ids_keep_growing(broker):
    ids = [await broker.publish("store:1", {"n": n}) for n in range(3)]
    assert await broker.delete("store:1", [ids[1]]) == 1
    replayed = await broker.replay("store:1", 0)  # the chain breaks at the hole: a reset, or what is left
    assert replayed is None or [m.body["n"] for m in replayed] == [0, 2]
    await broker.drop_channel("store:1")
    after = await broker.publish("store:1", {"n": 3})
    assert after is not None and after > ids[-1]
    assert await broker.latest_many(["store:1", "store:404"]) == [after, 0] and await broker.latest_many([]) == []


async def test_control_messages_reach_every_worker_and_a_reconnect_resyncs():
    """A broadcast through Redis reaches the handlers; after the pub/sub connection is killed the hub
    catches up and tells the caches (they may have missed control messages meanwhile)."""
    from tests.push.test_redis_resilience import kill_pubsub_connections

    prefix = f"lbs-test-{uuid.uuid4().hex[:8]}"
    url = redis_url()
    hub = Hub(RedisBroker(url + ("&" if "?" in url else "?") + f"client_name={prefix}", prefix=prefix))
    controls, reconnects = [], []

    async def on_control(body):
        controls.append(body)

    async def on_reconnect():
        reconnects.append(True)

    hub.on_control(on_control)
    hub.on_reconnect(on_reconnect)
    await hub.start()
    try:
        for _ in range(100):  # until the listener has subscribed to the control channel
            await hub.broadcast({"type": "invalidate"})
            await asyncio.sleep(0.05)
            if controls:
                break
        assert controls and all(body == {"type": "invalidate"} for body in controls)
        assert await kill_pubsub_connections(url, prefix) >= 1
        await _until(lambda: reconnects)
    finally:
        await hub.close()


async def test_reconciliation_says_what_pub_sub_missed_and_survives_a_backplane_away(caplog):
    from tests.push.test_hub_gaps import LossyBroker

    hub = Hub(LossyBroker({("store:1", 1)}))
    await hub.start()
    subscriber = await hub.subscribe("store:1", None)
    await hub.publish("store:1", {"n": 1})  # its wake-up is lost: only reconciliation finds it
    with caplog.at_level(logging.WARNING, logger="push.hub"):
        task = asyncio.create_task(hub.reconcile_every(0.01))
        await _until(lambda: not subscriber.queue.empty())

        async def away(channels):
            raise ConnectionError("backplane away")

        hub.broker.latest_many = away  # type: ignore[method-assign]
        await _until(lambda: "reconciliation skipped" in caplog.text)
        task.cancel()
    assert subscriber.queue.get_nowait().body["n"] == 1
    assert "1 messages reached this worker by reconciliation" in caplog.text
    await hub.close()


def test_messages_encode_for_clients_on_their_channels():
    assert Message("store:7", 3, {"type": "arrival"}, 2).encode() == b'{"type":"arrival","id":3}'
    assert (store_channel(7), user_channel("u-1")) == ("store:7", "user:u-1")


async def _until(condition, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")
