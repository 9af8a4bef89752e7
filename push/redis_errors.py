"""One kind of error for 'Redis is not there': while a node restarts, the client sometimes fails
with its own AttributeError or RuntimeError (a connection torn down under it) instead of a
ConnectionError. Callers should see an outage either way, not a bug.

And a cancellation is never lost in the client: a task cancelled while a command was in flight can
see the command finish (or fail) instead of its CancelledError (the client swallows it on some
paths), and a loop that goes on would never end - a worker that cannot shut down, a test that
waits for good. A cancellation requested during a call cancels the task after it; one requested
before the call (already delivered, clean-up running) is left alone."""

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

T = TypeVar("T")
_TORN_CONNECTION = (AttributeError, RuntimeError, OSError, TimeoutError)


async def redis_call(awaitable: Awaitable[T]) -> T:
    task = asyncio.current_task()
    requested = task.cancelling() if task is not None else 0
    try:
        result = await awaitable
    except asyncio.CancelledError:
        raise
    except RedisError:
        _cancelled_meanwhile(task, requested)
        raise
    except _TORN_CONNECTION as error:
        _cancelled_meanwhile(task, requested)
        raise RedisConnectionError(f"redis client failed mid-call ({type(error).__name__})") from error
    _cancelled_meanwhile(task, requested)
    return result


def _cancelled_meanwhile(task: "asyncio.Task[object] | None", requested: int) -> None:
    if task is not None and task.cancelling() > requested:
        raise asyncio.CancelledError  # the client swallowed it: the task is cancelled all the same
