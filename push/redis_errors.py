"""One kind of error for 'Redis is not there': while a node restarts, the client sometimes fails
with its own AttributeError or RuntimeError (a connection torn down under it) instead of a
ConnectionError. Callers should see an outage either way, not a bug."""

from collections.abc import Awaitable
from typing import TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

T = TypeVar("T")
_TORN_CONNECTION = (AttributeError, RuntimeError, OSError, TimeoutError)


async def redis_call(awaitable: Awaitable[T]) -> T:
    try:
        return await awaitable
    except RedisError:
        raise
    except _TORN_CONNECTION as error:
        raise RedisConnectionError(f"redis client failed mid-call ({type(error).__name__})") from error
