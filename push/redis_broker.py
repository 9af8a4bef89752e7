"""Redis backend: a capped Stream per channel, and pub/sub by shard only as a wake-up.

One Lua step appends to the channel's stream (which gives the message its id and records the id
before it: see messages.py for why ids survive a restart) and publishes it on the channel's shard.
Each worker subscribes once per shard it needs, not once per connection, and routes to its local sockets; a
reconnecting client is served from the stream. A dedupe key (the outbox row id) already taken
for the channel is skipped, so a relay that crashed after publishing but before marking its
rows repeats nothing. All keys of a channel share a hash tag, so the script stays on one node
of a Redis Cluster.
"""

import asyncio
import contextlib
import logging
import time
import zlib
from typing import Any

import redis.asyncio as redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import NoScriptError, RedisError

from push.broker import Control, Deliver, Reconnected
from push.messages import Message, decode_body, encode_body
from push.redis_errors import redis_call

log = logging.getLogger(__name__)


def connect_redis(url: str, max_connections: int = 64, cluster: bool = False) -> Any:
    """A client whose pool makes callers wait for a connection instead of failing under a burst.

    With cluster=True the URL names any node of a Redis Cluster; keys route by their hash tag
    (a channel's keys share one), and the classic PUBLISH in the script reaches every node.
    """
    if cluster:
        return RedisCluster.from_url(url, max_connections=max_connections, socket_connect_timeout=2,
                                     socket_timeout=5)
    pool = redis.BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=10,
                                                 socket_connect_timeout=2, socket_timeout=5)
    return redis.Redis(connection_pool=pool)


# Ids are max(prev + 1, the server's clock in microseconds) and each entry keeps its prev (see
# messages.py); numbers go through string.format because Lua would print them as 1.7e+15.
_APPEND = """
local function append(body)
  local t = redis.call('TIME')
  local clock = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local prev = tonumber(redis.call('GET', KEYS[2]) or '0')
  local id = math.max(prev + 1, clock)
  local id_text, prev_text = string.format('%.0f', id), string.format('%.0f', prev)
  redis.call('SET', KEYS[2], id_text)
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], id_text .. '-0', 'm', body, 'p', prev_text)
  redis.call('PUBLISH', ARGV[4], ARGV[1] .. '\\n' .. id_text .. '\\n' .. prev_text .. '\\n' .. body)
  return id_text
end
"""
_PUBLISH = _APPEND + """
local dedupe, retention = ARGV[5], tonumber(ARGV[3])
if dedupe ~= '' then
  if redis.call('ZSCORE', KEYS[3], dedupe) then return '0' end
  redis.call('ZADD', KEYS[3], dedupe, dedupe)
  local kept = redis.call('ZCARD', KEYS[3])
  if kept > retention then redis.call('ZREMRANGEBYRANK', KEYS[3], 0, kept - retention - 1) end
end
return append(ARGV[2])
"""
# An ack names an alert that is on this channel's stream and not yet acknowledged; anything else is
# refused, so made-up acks can neither fill the stream nor push real alerts out of it.
_ACKNOWLEDGE = _APPEND + """
local alert, retention = ARGV[5], tonumber(ARGV[3])
local found = redis.call('XRANGE', KEYS[1], alert .. '-0', alert .. '-0')
if #found == 0 then return '0' end
local fields = found[1][2]
local kind = nil
for i = 1, #fields, 2 do
  if fields[i] == 'm' then kind = cjson.decode(fields[i + 1])['type'] end
end
if not (kind == 'arrival') then return '0' end
if redis.call('ZADD', KEYS[4], 'NX', alert, alert) == 0 then return '0' end
local kept = redis.call('ZCARD', KEYS[4])
if kept > retention then redis.call('ZREMRANGEBYRANK', KEYS[4], 0, kept - retention - 1) end
return append(ARGV[2])
"""

# A store's demand gauge: each worker reports its own counts (nearby, and with ETA under 5, 10, 15
# minutes); the sum over workers heard from lately becomes a `demand` message when it changed and
# the last one is at least min_interval old ('-1': withheld, report again; '0': unchanged).
_GAUGE = _APPEND + """
local worker, counts, stale_ms, min_ms = ARGV[5], ARGV[6], tonumber(ARGV[7]), tonumber(ARGV[8])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[5], worker, counts .. ',' .. string.format('%.0f', now))
redis.call('PEXPIRE', KEYS[5], 600000)
local sum = {0, 0, 0, 0}
local fields = redis.call('HGETALL', KEYS[5])
for i = 1, #fields, 2 do
  local name, value = fields[i], fields[i + 1]
  if string.sub(name, 1, 1) ~= '_' then
    local parts = {}
    for part in string.gmatch(value, '[^,]+') do parts[#parts + 1] = tonumber(part) end
    if now - parts[5] > stale_ms then
      redis.call('HDEL', KEYS[5], name)
    else
      for k = 1, 4 do sum[k] = sum[k] + parts[k] end
    end
  end
end
local total = string.format('%d,%d,%d,%d', sum[1], sum[2], sum[2] + sum[3], sum[2] + sum[3] + sum[4])
if redis.call('HGET', KEYS[5], '_last') == total then return '0' end
local last_at = tonumber(redis.call('HGET', KEYS[5], '_at') or '0')
if now - last_at < min_ms then return '-1' end
redis.call('HSET', KEYS[5], '_last', total, '_at', string.format('%.0f', now))
local body = cjson.encode({type = 'demand', nearby = sum[1],
  approaching = {['5'] = sum[2], ['10'] = sum[2] + sum[3], ['15'] = sum[2] + sum[3] + sum[4]}})
return append(body)
"""


ROUTE_BATCH = 32  # wake-ups routed before the listener lets the other tasks run


CLOSE_WAIT_S = 2.0  # the longest a close waits for the client to let go of its connections


class RedisBroker:
    """The broker on Redis: one capped stream per channel, pub/sub by shard to wake workers."""

    SHARDS = 64

    def __init__(self, client: Any, retention: int = 10_000, prefix: str = "lbs") -> None:
        self.client = connect_redis(client) if isinstance(client, str) else client
        self.retention = retention
        self.prefix = prefix
        self._publish_script = self.client.register_script(_PUBLISH)
        self._ack_script = self.client.register_script(_ACKNOWLEDGE)
        self._gauge_script = self.client.register_script(_GAUGE)
        self._watch_counts: dict[int, int] = {}
        self._subscribed: dict[int, asyncio.Event] = {}  # set once Redis confirms the subscription
        self._wanted: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
        self._listener: asyncio.Task[None] | None = None

    # ---- keys ------------------------------------------------------------------------
    def _keys(self, channel: str) -> tuple[str, str, str, str, str]:
        """stream, last id, outbox ids taken, alerts acknowledged, gauge: one hash tag, one cluster node."""
        tag = f"{self.prefix}:{{{channel}}}"
        return f"{tag}:stream", f"{tag}:seq", f"{tag}:relayed", f"{tag}:acked", f"{tag}:gauge"

    def shard_of(self, channel: str) -> str:
        return self._shard_name(zlib.crc32(channel.encode()) % self.SHARDS)

    @property
    def _control_channel(self) -> str:
        return f"{self.prefix}:control"

    # ---- lifecycle -------------------------------------------------------------------
    async def start(self, deliver: Deliver, reconnected: Reconnected, control: Control) -> None:
        if isinstance(self.client, RedisCluster):
            await self.client.initialize()  # learn the slot map before the first pub/sub or script call
        self._listener = asyncio.create_task(self._listen(deliver, reconnected, control))

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._listener, 2 * CLOSE_WAIT_S)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.client.aclose(), CLOSE_WAIT_S)

    async def healthy(self) -> bool:
        try:
            return bool(await redis_call(self.client.ping()))
        except RedisError:
            return False

    # ---- writing and reading streams -------------------------------------------------
    def _script_call(self, channel: str, body: dict[str, Any], extra: int | None) -> tuple[list[str], list[Any]]:
        last: str | int = "" if extra is None else extra
        return list(self._keys(channel)), [channel, encode_body(body), self.retention, self.shard_of(channel), last]

    async def publish(self, channel: str, body: dict[str, Any], dedupe_key: int | None = None) -> int | None:
        keys, args = self._script_call(channel, body, dedupe_key)
        message_id = int(await redis_call(self._publish_script(keys=keys, args=args)))
        return message_id or None

    async def acknowledge(self, channel: str, alert_id: int, body: dict[str, Any]) -> int | None:
        keys, args = self._script_call(channel, body, alert_id)
        message_id = int(await redis_call(self._ack_script(keys=keys, args=args)))
        return message_id or None

    async def acked(self, channel: str, alert_id: int) -> bool:
        return await redis_call(self.client.zscore(self._keys(channel)[3], alert_id)) is not None

    async def report_gauges(self, worker: str, reports: list[tuple[str, tuple[int, int, int, int]]],
                            min_interval_s: float, stale_s: float) -> list[int]:
        """Each channel's counts from this worker; per channel: a message id, 0 (unchanged) or -1 (withheld)."""
        calls = []
        for channel, counts in reports:
            keys, args = self._script_call(channel, {}, None)
            args[4:] = [worker, ",".join(map(str, counts)), int(stale_s * 1000), int(min_interval_s * 1000)]
            calls.append((keys, args))
        return [int(r) for r in await redis_call(self._run_script(self._gauge_script, calls))] if calls else []

    async def publish_many(self, items: list[tuple[str, dict[str, Any], int | None]]) -> list[int | None]:
        """One round trip for a batch (each message still its own atomic script call)."""
        if not items:
            return []
        try:
            results = await redis_call(self._pipelined(items))
        except NoScriptError:  # a cluster node restarted empty: load the script everywhere, once more
            await redis_call(self.client.script_load(_PUBLISH))
            results = await redis_call(self._pipelined(items))
        return [int(r) or None for r in results]

    async def _pipelined(self, items: list[tuple[str, dict[str, Any], int | None]]) -> list[Any]:
        return await self._run_script(self._publish_script, [self._script_call(*item) for item in items])

    async def _run_script(self, script: Any, calls: list[tuple[list[str], list[Any]]]) -> list[Any]:
        """One script over many key sets, in order: one pipelined round trip on a single server (the
        pipeline loads the script if needed). A cluster client cannot pipeline scripts: one call after
        another. (Concurrent calls were faster but tore connections when a node restarted: measured,
        not assumed.)"""
        if isinstance(self.client, RedisCluster):
            return [await script(keys=keys, args=args) for keys, args in calls]
        async with self.client.pipeline(transaction=False) as pipe:
            for keys, args in calls:
                await script(keys=keys, args=args, client=pipe)
            results: list[Any] = await pipe.execute()
        return results

    async def replay(self, channel: str, after_id: int) -> list[Message] | None:
        stream, seq, *_ = self._keys(channel)
        last = int(await redis_call(self.client.get(seq)) or 0)
        if after_id == last:
            return []
        entries: Any = await redis_call(self.client.xrange(stream, min=f"({after_id}-0", max="+"))
        messages = [Message(channel, int(eid.split(b"-")[0]), decode_body(fields[b"m"]), int(fields[b"p"]))
                    for eid, fields in entries]
        if not messages or messages[0].prev != after_id:
            return None  # trimmed past what the client has, or an id this stream's chain never held
        return messages

    async def tail(self, channel: str, after_id: int) -> list[Message]:
        """What the stream holds after `after_id`, chain or no chain (what follows a reset)."""
        entries: Any = await redis_call(self.client.xrange(self._keys(channel)[0], min=f"({after_id}-0", max="+",
                                                           count=self.retention))
        return [Message(channel, int(eid.split(b"-")[0]), decode_body(fields[b"m"]), int(fields[b"p"]))
                for eid, fields in entries]

    async def latest(self, channel: str) -> int:
        return int(await redis_call(self.client.get(self._keys(channel)[1])) or 0)

    async def latest_many(self, channels: list[str]) -> list[int]:
        """The newest id of each channel in one round trip (per node, on a cluster)."""
        async def read() -> list[Any]:
            async with self.client.pipeline(transaction=False) as pipe:
                for channel in channels:
                    pipe.get(self._keys(channel)[1])
                values: list[Any] = await pipe.execute()
            return values

        return [int(value or 0) for value in await redis_call(read())] if channels else []

    async def delete(self, channel: str, message_ids: list[int]) -> int:
        if not message_ids:
            return 0
        return int(await redis_call(self.client.xdel(self._keys(channel)[0], *(f"{i}-0" for i in message_ids))))

    async def drop_channel(self, channel: str) -> None:
        """Forget a channel's messages (erasure); its last id stays, so ids keep growing."""
        stream, _, relayed, acked, _ = self._keys(channel)
        await redis_call(self.client.delete(stream, relayed, acked))

    async def broadcast(self, body: dict[str, Any]) -> None:
        await redis_call(self.client.publish(self._control_channel, encode_body(body)))

    # ---- who holds live subscribers: a sorted set per channel, worker -> expiry (ms) ---------
    def _holders(self, channel: str) -> str:
        return f"{self.prefix}:{{{channel}}}:holders"

    async def hold(self, worker: str, channels: list[str], ttl_s: float) -> None:
        if not channels:
            return
        expiry = int((time.time() + ttl_s) * 1000)

        async def write() -> None:
            async with self.client.pipeline(transaction=False) as pipe:
                for channel in channels:
                    pipe.zadd(self._holders(channel), {worker: expiry})
                    pipe.pexpire(self._holders(channel), int(ttl_s * 1000))
                await pipe.execute()

        await redis_call(write())

    async def release(self, worker: str, channel: str) -> None:
        await redis_call(self.client.zrem(self._holders(channel), worker))

    async def held(self, channel: str) -> bool:
        """A worker that died holding the channel stops counting when its entry expires."""
        now = int(time.time() * 1000)
        live = await redis_call(self.client.zrangebyscore(self._holders(channel), now, "+inf", start=0, num=1))
        return bool(live)

    # ---- the shard subscriptions -----------------------------------------------------
    async def watch(self, channel: str, timeout_s: float = 5.0) -> None:
        """Returns once the shard subscription is confirmed: a replay read after this misses nothing."""
        shard = zlib.crc32(channel.encode()) % self.SHARDS
        self._watch_counts[shard] = self._watch_counts.get(shard, 0) + 1
        if self._watch_counts[shard] == 1:
            self._subscribed.setdefault(shard, asyncio.Event())
            await self._wanted.put(("subscribe", shard))
        await asyncio.wait_for(self._subscribed.setdefault(shard, asyncio.Event()).wait(), timeout_s)

    async def unwatch(self, channel: str) -> None:
        shard = zlib.crc32(channel.encode()) % self.SHARDS
        self._watch_counts[shard] = self._watch_counts.get(shard, 1) - 1
        if self._watch_counts[shard] <= 0:
            del self._watch_counts[shard]
            self._subscribed.pop(shard, None)
            await self._wanted.put(("unsubscribe", shard))

    def _shard_name(self, shard: int) -> str:
        return f"{self.prefix}:shard:{shard}"

    async def _listen(self, deliver: Deliver, reconnected: Reconnected, control: Control) -> None:
        """Route shard messages to the hub and control messages to their handler; on a lost
        connection, back off, resubscribe, resync."""
        backoff = 0.1
        first = True
        attempt = 0
        while True:
            pubsub = self._pubsub(attempt)
            attempt += 1
            for event in self._subscribed.values():
                event.clear()
            try:
                await pubsub.subscribe(self._control_channel)
                shards = [self._shard_name(s) for s in self._watch_counts]
                if shards:
                    await pubsub.subscribe(*shards)
                if not first:
                    await reconnected()  # messages published while we were away come from the streams
                first, backoff = False, 0.1
                routed = 0
                while True:
                    await self._apply_wanted(pubsub)
                    raw = await pubsub.get_message(timeout=0.05)
                    if raw is not None:
                        await self._route(raw, deliver, control)
                        routed += 1
                        if routed % ROUTE_BATCH == 0:
                            # Buffered messages are read without waiting: a burst held the loop for up
                            # to 159 ms (asyncio debug) while every socket waited. Let them run.
                            await asyncio.sleep(0)
            except asyncio.CancelledError:
                # Bounded, as every close here is: a shutdown never waits for good on a connection that
                # does not answer. (The full-run hang once blamed on this was a lost cancellation:
                # redis_errors.redis_call.)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(pubsub.aclose(), CLOSE_WAIT_S)
                raise
            except Exception as error:  # whatever the client raises, the listener must live on and resync
                log.warning("redis pub/sub lost (%s); retrying in %.1f s", type(error).__name__, backoff)
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

    async def _route(self, raw: dict[str, Any], deliver: Deliver, control: Control) -> None:
        if raw["type"] == "message" and raw["channel"] == self._control_channel.encode():
            await control(decode_body(raw["data"]))
        elif raw["type"] == "message":
            await deliver(self._parse(raw["data"]))
        elif raw["type"] == "subscribe":
            self._confirm(raw["channel"])

    def _pubsub(self, attempt: int) -> Any:
        """On a cluster, any node will do (a classic PUBLISH reaches them all): take the next one
        each time, so a node that is down is not tried again and again."""
        if isinstance(self.client, RedisCluster):
            nodes = self.client.get_primaries()
            if nodes:
                return self.client.pubsub(node=nodes[attempt % len(nodes)])
        return self.client.pubsub()

    async def _apply_wanted(self, pubsub: Any) -> None:
        while not self._wanted.empty():
            action, shard = self._wanted.get_nowait()
            if action == "subscribe" and shard in self._watch_counts:
                await pubsub.subscribe(self._shard_name(shard))
            elif action == "unsubscribe" and shard not in self._watch_counts:
                await pubsub.unsubscribe(self._shard_name(shard))

    def _confirm(self, name: bytes) -> None:
        shard = name.decode().rsplit(":", 1)[-1]
        if shard.isdigit() and int(shard) in self._subscribed:
            self._subscribed[int(shard)].set()

    @staticmethod
    def _parse(data: bytes) -> Message:
        channel, message_id, prev, body = data.split(b"\n", 3)
        return Message(channel.decode(), int(message_id), decode_body(body), int(prev))
