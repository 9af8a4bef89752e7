"""One kind of error for 'Redis is not there': while a node restarts, the client sometimes fails
with its own AttributeError or RuntimeError (a connection torn down under it) instead of a
ConnectionError. Callers should see an outage either way, not a bug.

And a cancellation is never lost in the client: a task cancelled while a command was in flight can
see the command finish (or fail) instead of its CancelledError (the client swallows it on some
paths), and a loop that goes on would never end - a worker that cannot shut down, a test that
waits for good. After any call, a task whose cancellation was requested is cancelled."""

import asyncio
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
    finally:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise asyncio.CancelledError  # a cancellation outranks the call's own outcome
