"""Rate limits per subject and action, counted in Redis so they hold across workers (in process
when there is no Redis, i.e. a single worker). Fixed windows: simple, at the price of letting up to
twice the limit through around a window's edge. Every counter expires with its window, and a
refused request is not counted: a client that is refused does not use up its own next window.

A limiter that cannot reach Redis lets requests through: it protects the service, it is not the
service, and the request itself meets the outage where it needs Redis.

Fixes on a websocket are limited per socket, in memory (LocalBucket): a phone sends one a second,
and a Redis round trip per fix would cost more than the fix.
"""

import logging
import time
from dataclasses import dataclass
from typing import Any

from lbs_service.clock import Clock, system_clock
from lbs_service.errors import TooManyRequests

log = logging.getLogger(__name__)

_INCREMENT = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
local cost, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
if n + cost > limit then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 then ttl = tonumber(ARGV[1]) end
  return {n + cost, ttl}
end
n = redis.call('INCRBY', KEYS[1], cost)
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
"""


@dataclass(frozen=True)
class Rule:
    limit: int
    window_s: int


DEFAULT_RULES: dict[str, Rule] = {
    "fix": Rule(60, 10),  # per socket: a phone reports about once a second; bursts after a tunnel are fine
    "fix_batch": Rule(60, 60),  # POST /v1/users/me/locations, up to 1,000 fixes each
    "claim": Rule(20, 60),
    "redeem": Rule(120, 60),  # per staff member: a busy counter, not a script
    "order": Rule(20, 60),
    "ack": Rule(120, 60),  # per staff member: one per card, with room for a busy hour's start
    "reply": Rule(30, 60),
    "coverage": Rule(30, 60),  # per planner: each is priced and bounded, but not free
    "postgis": Rule(120, 60),  # nearby with engine=postgis, per client: the cross-check, not the product
    "catalogue": Rule(300, 60),  # GET /v1/skus?q=, per client: suggestions as a person types
    "token": Rule(1200, 60),  # any authenticated request, per subject
}


class RateLimiter:
    """Fixed-window limits per (action, subject), shared across workers through Redis."""

    def __init__(self, rules: dict[str, Rule], redis: Any = None, prefix: str = "lbs", enabled: bool = True,
                 clock: Clock = system_clock) -> None:
        """`clock`: the service's, whose windows the counters follow (a server under test never meets
        a window's edge it did not ask for)."""
        self.rules, self.redis, self.prefix, self.enabled, self.clock = rules, redis, prefix, enabled, clock
        self._local: dict[str, tuple[int, float]] = {}
        self._script = redis.register_script(_INCREMENT) if redis is not None else None

    async def check(self, action: str, subject: str, cost: int = 1) -> None:
        """Count `cost` of `action` by `subject`; TooManyRequests (429, Retry-After) when over the limit."""
        if not self.enabled:
            return
        rule = self.rules[action]
        window = int(self.clock().timestamp() // rule.window_s)
        # The hash tag keeps one subject's counters on one Redis Cluster node.
        key = f"{self.prefix}:rl:{{{subject}}}:{action}:{window}"
        if self._script is None:
            count, reset_in_s = self._count_locally(key, rule, cost)
        else:
            try:
                count, ttl_ms = await self._script(keys=[key], args=[rule.window_s * 1000, cost, rule.limit])
            except Exception as error:  # see the module docstring: fail open, say so
                log.warning("rate limiter unavailable (%s): request allowed", type(error).__name__)
                return
            reset_in_s = max(0.0, ttl_ms / 1000)
        if count > rule.limit:
            raise TooManyRequests(f"more than {rule.limit} {action} requests in {rule.window_s} s; "
                                  f"try again in {reset_in_s:.0f} s", int(reset_in_s + 0.999))

    def _count_locally(self, key: str, rule: Rule, cost: int) -> tuple[int, float]:
        now = time.monotonic()
        count, expires = self._local.get(key, (0, now + rule.window_s))
        if len(self._local) > 100_000:  # old windows are dropped wholesale; their keys can never count again
            self._local = {k: v for k, v in self._local.items() if v[1] > now}
        if count + cost <= rule.limit:  # a refused request is not counted
            self._local[key] = (count + cost, expires)
        return count + cost, expires - now


class LocalBucket:
    """A token bucket in memory: `limit` events per `window_s`, refilled continuously."""

    def __init__(self, rule: Rule, enabled: bool = True) -> None:
        self.capacity, self.rate, self.enabled = float(rule.limit), rule.limit / rule.window_s, enabled
        self._tokens, self._at = float(rule.limit), time.monotonic()

    def take(self) -> float:
        """0 when allowed; else the seconds until a token is free."""
        if not self.enabled:
            return 0.0
        now = time.monotonic()
        self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate
