"""Redis backend: a capped Stream per channel, and pub/sub by shard only as a wake-up.

One Lua step appends to the channel's stream (which gives the message its id: a per-channel
counter, so ids grow by one) and publishes it on the channel's shard. Each worker subscribes
once per shard it needs, not once per connection, and routes to its local sockets; a
reconnecting client is served from the stream. A dedupe key (the outbox row id) already taken
for the channel is skipped, so a relay that crashed after publishing but before marking its
rows repeats nothing. All keys of a channel share a hash tag, so the script stays on one node
of a Redis Cluster.
"""

import asyncio
import contextlib
import logging
import zlib
from typing import Any

import redis.asyncio as redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import NoScriptError, RedisError

from push.broker import Deliver, Reconnected
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


_PUBLISH = """
local channel, body, retention, shard, dedupe = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if dedupe ~= '' then
  if redis.call('ZSCORE', KEYS[3], dedupe) then return 0 end
  redis.call('ZADD', KEYS[3], dedupe, dedupe)
  local kept = redis.call('ZCARD', KEYS[3])
  if kept > tonumber(retention) then redis.call('ZREMRANGEBYRANK', KEYS[3], 0, kept - tonumber(retention) - 1) end
end
local id = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[1], 'MAXLEN', '~', retention, id .. '-0', 'm', body)
redis.call('PUBLISH', shard, channel .. '\\n' .. id .. '\\n' .. body)
return id
"""


class RedisBroker:
    SHARDS = 64

    def __init__(self, client: Any, retention: int = 10_000, prefix: str = "lbs") -> None:
        self.client = connect_redis(client) if isinstance(client, str) else client
        self.retention = retention
        self.prefix = prefix
        self._script = self.client.register_script(_PUBLISH)
        self._watch_counts: dict[int, int] = {}
        self._subscribed: dict[int, asyncio.Event] = {}  # set once Redis confirms the subscription
        self._wanted: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
        self._listener: asyncio.Task[None] | None = None

    # ---- keys ------------------------------------------------------------------------
    def _keys(self, channel: str) -> tuple[str, str, str]:
        tag = f"{self.prefix}:{{{channel}}}"
        return f"{tag}:stream", f"{tag}:seq", f"{tag}:relayed"

    def shard_of(self, channel: str) -> str:
        return f"{self.prefix}:shard:{zlib.crc32(channel.encode()) % self.SHARDS}"

    # ---- lifecycle -------------------------------------------------------------------
    async def start(self, deliver: Deliver, reconnected: Reconnected) -> None:
        if isinstance(self.client, RedisCluster):
            await self.client.initialize()  # learn the slot map before the first pub/sub or script call
        self._listener = asyncio.create_task(self._listen(deliver, reconnected))

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await self.client.aclose()

    async def healthy(self) -> bool:
        try:
            return bool(await redis_call(self.client.ping()))
        except RedisError:
            return False

    # ---- writing and reading streams -------------------------------------------------
    def _script_call(self, channel: str, body: dict[str, Any], dedupe_key: int | None) -> tuple[list[str], list[Any]]:
        dedupe: str | int = "" if dedupe_key is None else dedupe_key
        return list(self._keys(channel)), [channel, encode_body(body), self.retention, self.shard_of(channel), dedupe]

    async def publish(self, channel: str, body: dict[str, Any], dedupe_key: int | None = None) -> int | None:
        keys, args = self._script_call(channel, body, dedupe_key)
        message_id = int(await redis_call(self._script(keys=keys, args=args)))
        return message_id or None

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
        if isinstance(self.client, RedisCluster):
            return await self._per_channel(items)
        async with self.client.pipeline(transaction=False) as pipe:  # the pipeline loads the script if needed
            for channel, body, dedupe_key in items:
                keys, args = self._script_call(channel, body, dedupe_key)
                await self._script(keys=keys, args=args, client=pipe)
            results: list[Any] = await pipe.execute()
        return results

    async def _per_channel(self, items: list[tuple[str, dict[str, Any], int | None]]) -> list[Any]:
        """A cluster client cannot pipeline scripts: one call after another, in order. (Concurrent
        calls were faster but tore connections when a node restarted: measured, not assumed.)"""
        results: list[Any] = []
        for item in items:
            keys, args = self._script_call(*item)
            results.append(await self._script(keys=keys, args=args))
        return results

    async def replay(self, channel: str, after_id: int) -> list[Message] | None:
        stream, seq, _ = self._keys(channel)
        last = int(await redis_call(self.client.get(seq)) or 0)
        if after_id > last:
            return None
        if after_id == last:
            return []
        entries: Any = await redis_call(self.client.xrange(stream, min=f"{after_id + 1}-0", max="+"))
        messages = [Message(channel, int(eid.split(b"-")[0]), decode_body(fields[b"m"])) for eid, fields in entries]
        if not messages or messages[0].id != after_id + 1:
            return None  # trimmed past what the client has
        return messages

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

    async def _listen(self, deliver: Deliver, reconnected: Reconnected) -> None:
        """Route shard messages to the hub; on a lost connection, back off, resubscribe, resync."""
        backoff = 0.1
        first = True
        attempt = 0
        while True:
            pubsub = self._pubsub(attempt)
            attempt += 1
            for event in self._subscribed.values():
                event.clear()
            try:
                await pubsub.subscribe(f"{self.prefix}:shard:keepalive")
                shards = [self._shard_name(s) for s in self._watch_counts]
                if shards:
                    await pubsub.subscribe(*shards)
                if not first:
                    await reconnected()  # messages published while we were away come from the streams
                first, backoff = False, 0.1
                while True:
                    await self._apply_wanted(pubsub)
                    raw = await pubsub.get_message(timeout=0.05)
                    if raw is None:
                        continue
                    if raw["type"] == "message":
                        await deliver(self._parse(raw["data"]))
                    elif raw["type"] == "subscribe":
                        self._confirm(raw["channel"])
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                raise
            except Exception as error:  # whatever the client raises, the listener must live on and resync
                log.warning("redis pub/sub lost (%s); retrying in %.1f s", type(error).__name__, backoff)
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

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
        channel, message_id, body = data.split(b"\n", 2)
        return Message(channel.decode(), int(message_id), decode_body(body))
