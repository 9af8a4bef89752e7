"""The two websockets of API.md: the user's (fixes in, promotions out) and the store console's
(arrivals out with replay from last_id, acks in and shown on every console of the store)."""

import asyncio
import contextlib
import logging
from typing import Annotated
from urllib.parse import urlsplit

import orjson
from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from redis.exceptions import RedisClusterException, RedisError

from lbs_service import metrics
from lbs_service.auth import Principal, Role, read_token
from lbs_service.errors import TooManyRequests, Unauthorized
from lbs_service.problems import OUTAGE_RETRY_AFTER_S, outage_errors
from lbs_service.proximity.fixes import LocationMessage
from lbs_service.services import Services
from push.hub import Subscriber
from push.messages import store_channel, user_channel

log = logging.getLogger(__name__)
router = APIRouter()

CLOSE_UNAUTHORIZED, CLOSE_FORBIDDEN, CLOSE_TOO_SLOW, CLOSE_TRY_AGAIN = 4401, 4403, 4008, 1013
SLOW_CLOSE_WAIT_S = 10.0
_background: set[asyncio.Task[None]] = set()  # close tasks, referenced until done


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


def _close_when_revoked(websocket: WebSocket, services: Services, principal: Principal) -> int:
    def revoked() -> None:
        closing = asyncio.get_running_loop().create_task(websocket.close(CLOSE_FORBIDDEN, "token revoked"))
        _background.add(closing)
        closing.add_done_callback(_background.discard)

    return services.revocations.watch(principal, revoked)


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


def _ended_for_slowness(subscriber: Subscriber) -> bool:
    """True when the handler was cancelled because its consumer was too slow (then it ends quietly)."""
    task = asyncio.current_task()
    if subscriber.overflowed.is_set() and task is not None:
        task.uncancel()
        return True
    return False


async def _stop_forwarding(services: Services, sender: asyncio.Task[None], subscriber: Subscriber) -> None:
    sender.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sender
    await services.hub.unsubscribe(subscriber)


async def _send(websocket: WebSocket, body: dict[str, object]) -> None:
    await websocket.send_text(orjson.dumps(body).decode())


@router.websocket("/v1/ws/user")
async def user_socket(websocket: WebSocket, token: Annotated[str | None, Query()] = None) -> None:
    principal = await _admit(websocket, token, ("user",))
    if principal is None:
        return
    services: Services = websocket.app.state.services
    engine = services.engine
    try:
        state = await engine.load_state(principal.subject)
        subscriber, _ = await services.hub.subscribe(user_channel(principal.subject), None)
    except (RedisError, RedisClusterException, TimeoutError):
        await websocket.close(CLOSE_TRY_AGAIN, "push backplane unavailable; reconnect shortly")
        return
    sender = _start_forwarding(websocket, subscriber)
    watch = _close_when_revoked(websocket, services, principal)
    try:
        while True:
            raw = await websocket.receive_text()
            if raw == '{"type":"ping"}':
                await _send(websocket, {"type": "pong"})
                continue
            try:
                fix = LocationMessage.model_validate_json(raw).to_fix()
            except (ValidationError, ValueError) as error:
                await _send(websocket, {"type": "error", "detail": _first_error(error)})
                continue
            try:
                await services.limits.check("fix", principal.subject)
            except TooManyRequests as error:
                await _send(websocket, {"type": "error", "detail": error.detail, "retry_after_s": error.retry_after_s})
                continue
            try:
                await engine.process(principal.subject, state, [fix])
            except outage_errors():  # Redis or the database blinked: say so, keep the socket
                await _send(websocket, {"type": "error", "detail": "temporarily unavailable: fix not processed",
                                        "retry_after_s": OUTAGE_RETRY_AFTER_S})
    except WebSocketDisconnect:
        pass
    except asyncio.CancelledError:
        if not _ended_for_slowness(subscriber):
            raise
    finally:
        services.revocations.unwatch(watch)
        await _stop_forwarding(services, sender, subscriber)
        await engine.release(principal.subject, state)


@router.websocket("/v1/ws/stores/{store_id}")
async def staff_socket(
    websocket: WebSocket,
    store_id: int,
    token: Annotated[str | None, Query()] = None,
    last_id: Annotated[int | None, Query(ge=0)] = None,
) -> None:
    principal = await _admit(websocket, token, ("staff", "operator"))
    if principal is None:
        return
    if principal.role == "staff" and principal.store_id != store_id:
        await websocket.close(CLOSE_FORBIDDEN, "this token is for another store")
        return
    services: Services = websocket.app.state.services
    channel = store_channel(store_id)
    try:
        subscriber, reset = await services.hub.subscribe(channel, last_id)
    except (RedisError, RedisClusterException, TimeoutError):
        await websocket.close(CLOSE_TRY_AGAIN, "push backplane unavailable; reconnect shortly")
        return
    if reset:
        await _send(websocket, {"type": "reset", "detail": "messages after last_id are gone; reload"})
    sender = _start_forwarding(websocket, subscriber)
    watch = _close_when_revoked(websocket, services, principal)
    try:
        while True:
            raw = await websocket.receive_text()
            try:
                message = orjson.loads(raw)
            except orjson.JSONDecodeError:
                await _send(websocket, {"type": "error", "detail": "messages are JSON objects"})
                continue
            kind = message.get("type") if isinstance(message, dict) else None
            if kind == "ping":
                await _send(websocket, {"type": "pong"})
            elif kind == "ack" and isinstance(message.get("id"), int) and not isinstance(message.get("id"), bool):
                await services.hub.publish(channel, {"type": "acked", "alert_id": message["id"],
                                                     "by": principal.subject})
            else:
                await _send(websocket, {"type": "error", "detail": 'send {"type": "ack", "id": <alert id>}'})
    except WebSocketDisconnect:
        pass
    except asyncio.CancelledError:
        if not _ended_for_slowness(subscriber):
            raise
    finally:
        services.revocations.unwatch(watch)
        await _stop_forwarding(services, sender, subscriber)


def _first_error(error: Exception) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return str(error)
