"""The two websockets of API.md: the user's (fixes in; promotions, staff answers and orders out, with
replay from last_id) and the store console's (cards, visit stages, the demand gauge, orders and acks
out, with replay; acks and answers in). Close codes and message types: socket_protocol.py.

Nothing a client sends can end a handler without a close frame: binary frames, bad JSON, bad values
and abuse all get an error message (or a close code) and the socket stays usable.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any
from urllib.parse import urlsplit

import orjson
from fastapi import APIRouter, Path, Query, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, ValidationError
from redis.exceptions import RedisClusterException, RedisError

from lbs_service import metrics
from lbs_service.auth import Principal, Role, read_token
from lbs_service.errors import DomainError, NotFound, TooManyRequests, Unauthorized
from lbs_service.fields import INT64_MAX, RowId, text_field
from lbs_service.o2o.access import acts_for_store
from lbs_service.problems import OUTAGE_RETRY_AFTER_S, outage_errors
from lbs_service.proximity.fixes import LocationMessage
from lbs_service.proximity.replies import send_reply
from lbs_service.rate_limits import LocalBucket
from lbs_service.services import Services
from lbs_service.socket_protocol import (
    CLOSE_FORBIDDEN,
    CLOSE_TOO_SLOW,
    CLOSE_TRY_AGAIN,
    CLOSE_UNAUTHORIZED,
)
from push.hub import Subscriber
from push.messages import store_channel, user_channel

log = logging.getLogger(__name__)
router = APIRouter()

SLOW_CLOSE_WAIT_S = 10.0
LastId = Annotated[int | None, Query(ge=0, le=INT64_MAX, description="the last message id you saw")]
_background: set[asyncio.Task[None]] = set()  # close tasks, referenced until done


class _Unsupported(Exception):
    """A binary frame."""


class AckMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    type: str
    id: RowId


class ReplyMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    type: str
    visit_id: RowId
    text: Annotated[str, text_field(500, 1)]


def _origin_allowed(websocket: WebSocket, services: Services) -> bool:
    """Browsers always send Origin: only our own pages and the configured origins may connect."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True  # not a browser (apps, services, tests)
    if origin in services.settings.cors_origins:
        return True
    return urlsplit(origin).netloc == websocket.headers.get("host")


async def _admit(websocket: WebSocket, token: str | None, roles: tuple[Role, ...]) -> Principal | None:
    """Accept, then check origin and token; a refusal is a close code the client can read."""
    services: Services = websocket.app.state.services
    await websocket.accept()
    if not _origin_allowed(websocket, services):
        await websocket.close(CLOSE_FORBIDDEN, "origin not allowed")
        return None
    try:
        principal = read_token(services.settings, token or "")
    except Unauthorized as error:
        await websocket.close(CLOSE_UNAUTHORIZED, error.detail[:120])
        return None
    if principal.role not in roles:
        await websocket.close(CLOSE_FORBIDDEN, "wrong role for this socket")
        return None
    if services.revocations.is_revoked(principal):
        await websocket.close(CLOSE_UNAUTHORIZED, "this token has been revoked")
        return None
    return principal


def _close_soon(websocket: WebSocket, code: int, reason: str) -> None:
    closing = asyncio.get_running_loop().create_task(websocket.close(code, reason))
    _background.add(closing)
    closing.add_done_callback(_background.discard)


@contextlib.asynccontextmanager
async def _session(websocket: WebSocket, services: Services, principal: Principal, channel: str,
                   last_id: int | None) -> AsyncIterator[Subscriber | None]:
    """The socket's subscription, its forwarding task and its revocation watch; None when the
    backplane is away (the socket is then closed 1013)."""
    async with contextlib.AsyncExitStack() as stack:
        try:
            subscriber = await stack.enter_async_context(services.hub.subscription(channel, last_id))
        except (RedisError, RedisClusterException, TimeoutError):
            await websocket.close(CLOSE_TRY_AGAIN, "push backplane unavailable; reconnect shortly")
            yield None
            return
        sender = _start_forwarding(websocket, subscriber)
        watch = services.revocations.watch(principal,
                                           lambda: _close_soon(websocket, CLOSE_UNAUTHORIZED, "token revoked"))
        metrics.add_gauge("lbs_websocket_subscribers", 1)
        try:
            yield subscriber
        finally:
            metrics.add_gauge("lbs_websocket_subscribers", -1)
            services.revocations.unwatch(watch)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender


def _start_forwarding(websocket: WebSocket, subscriber: Subscriber) -> asyncio.Task[None]:
    """Channel -> socket in one task; a consumer that cannot keep up is closed (4008) instead of
    growing a queue. One task per socket, no waiter tasks: idle sockets must stay cheap.

    Called from the socket's handler, which is ended once the close frame is out (the peer gets it
    after the data before it) or, for a peer that reads nothing at all, after SLOW_CLOSE_WAIT_S.
    """
    handler = asyncio.current_task()

    async def forward() -> None:
        while True:
            message = await subscriber.queue.get()
            await websocket.send_text(message.encode().decode())

    task = asyncio.create_task(forward())

    async def close_then_end() -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(websocket.close(CLOSE_TOO_SLOW, "too slow: reconnect with last_id"),
                                   SLOW_CLOSE_WAIT_S)
        if handler is not None:
            handler.cancel()  # the handler may sit in receive() forever otherwise

    def too_slow() -> None:
        task.cancel()
        metrics.count("lbs_websocket_slow_closed_total")
        _background.add(closing := asyncio.get_running_loop().create_task(close_then_end()))
        closing.add_done_callback(_background.discard)

    subscriber.on_overflow = too_slow
    return task


def _ended_for_slowness(subscriber: Subscriber | None) -> bool:
    """True when the handler was cancelled because its consumer was too slow (then it ends quietly)."""
    task = asyncio.current_task()
    if subscriber is not None and subscriber.overflowed.is_set() and task is not None:
        task.uncancel()
        return True
    return False


async def _send(websocket: WebSocket, body: dict[str, Any]) -> None:
    await websocket.send_text(orjson.dumps(body).decode())


async def _receive(websocket: WebSocket) -> str:
    """The next text frame; a binary frame raises _Unsupported, a close WebSocketDisconnect."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    if message.get("text") is not None:
        return str(message["text"])
    raise _Unsupported


async def _error(websocket: WebSocket, detail: str, **extra: Any) -> None:
    await _send(websocket, {"type": "error", "detail": detail, **extra})


@router.websocket("/v1/ws/user")
async def user_socket(websocket: WebSocket, token: Annotated[str | None, Query(max_length=4096)] = None,
                      last_id: LastId = None) -> None:
    principal = await _admit(websocket, token, ("user",))
    if principal is None:
        return
    services: Services = websocket.app.state.services
    user_id = principal.subject
    try:
        await services.engine.attach(user_id)
    except outage_errors():
        await websocket.close(CLOSE_TRY_AGAIN, "temporarily unavailable; reconnect shortly")
        return
    bucket = LocalBucket(services.limits.rules["fix"], services.limits.enabled)
    subscriber: Subscriber | None = None
    try:
        async with _session(websocket, services, principal, user_channel(user_id), last_id) as subscriber:
            if subscriber is None:
                return
            services.engine.preload(user_id)
            while True:
                try:
                    raw = await _receive(websocket)
                except _Unsupported:
                    await _error(websocket, "this socket speaks JSON text frames")
                    continue
                await _on_user_message(websocket, services, user_id, raw, bucket)
    except WebSocketDisconnect:
        pass
    except asyncio.CancelledError:
        if not _ended_for_slowness(subscriber):
            raise
    finally:
        with contextlib.suppress(Exception):
            await services.engine.detach(user_id)


async def _on_user_message(websocket: WebSocket, services: Services, user_id: str, raw: str,
                           bucket: LocalBucket) -> None:
    if raw == '{"type":"ping"}':
        await _send(websocket, {"type": "pong"})
        return
    try:
        fix = LocationMessage.model_validate_json(raw).to_fix(services.clock())
    except (ValidationError, DomainError, ValueError) as error:
        await _error(websocket, _first_error(error))
        return
    wait_s = bucket.take()
    if wait_s:
        await _error(websocket, "too many fixes: slow down", retry_after_s=max(1, round(wait_s)))
        return
    try:
        await services.engine.process(user_id, [fix])
    except outage_errors():  # the database blinked while loading the customer: say so, keep the socket
        await _error(websocket, "temporarily unavailable: fix not processed", retry_after_s=OUTAGE_RETRY_AFTER_S)


@router.websocket("/v1/ws/stores/{store_id}")
async def staff_socket(websocket: WebSocket, store_id: Annotated[int, Path(ge=1, le=INT64_MAX)],
                       token: Annotated[str | None, Query(max_length=4096)] = None, last_id: LastId = None) -> None:
    principal = await _admit(websocket, token, ("staff", "operator"))
    if principal is None:
        return
    if not acts_for_store(principal, store_id):
        await websocket.close(CLOSE_FORBIDDEN, "this token is for another store")
        return
    services: Services = websocket.app.state.services
    subscriber: Subscriber | None = None
    try:
        async with _session(websocket, services, principal, store_channel(store_id), last_id) as subscriber:
            if subscriber is None:
                return
            while True:
                try:
                    raw = await _receive(websocket)
                except _Unsupported:
                    await _error(websocket, "this socket speaks JSON text frames")
                    continue
                await _on_staff_message(websocket, services, principal, store_id, raw)
    except WebSocketDisconnect:
        pass
    except asyncio.CancelledError:
        if not _ended_for_slowness(subscriber):
            raise


async def _on_staff_message(websocket: WebSocket, services: Services, staff: Principal, store_id: int,
                            raw: str) -> None:
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError:
        await _error(websocket, "messages are JSON objects")
        return
    kind = message.get("type") if isinstance(message, dict) else None
    try:
        if kind == "ping":
            await _send(websocket, {"type": "pong"})
        elif kind == "ack":
            await _acknowledge(services, staff, store_id, AckMessage.model_validate(message).id)
        elif kind == "reply":
            reply = ReplyMessage.model_validate(message)
            await services.limits.check("reply", staff.subject)
            await asyncio.to_thread(send_reply, services.db, store_id, reply.visit_id, reply.text, services.clock())
            metrics.count("lbs_staff_replies_total")
        else:
            await _error(websocket, 'send {"type": "ack", "id": <alert id>} or {"type": "reply", "visit_id": '
                                    '<visit>, "text": "..."}')
    except ValidationError as error:
        await _error(websocket, _first_error(error))
    except TooManyRequests as error:
        await _error(websocket, error.detail, retry_after_s=error.retry_after_s)
    except DomainError as error:
        await _error(websocket, error.detail)
    except outage_errors():
        await _error(websocket, "temporarily unavailable; try again", retry_after_s=OUTAGE_RETRY_AFTER_S)


async def _acknowledge(services: Services, staff: Principal, store_id: int, alert_id: int) -> None:
    """Only a card on this store's stream, once: made-up ids cannot fill the stream."""
    await services.limits.check("ack", staff.subject)
    body = {"type": "acked", "alert_id": alert_id, "by": staff.subject}
    if await services.hub.acknowledge(store_channel(store_id), alert_id, body) is None:
        raise NotFound(f"no card {alert_id} to acknowledge on this store's console (or it is acknowledged)")


def _first_error(error: Exception) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    if isinstance(error, DomainError):
        return error.detail
    return str(error)
