"""Request logging that never records where a user is.

Uvicorn's access log prints query strings, and ours carry coordinates (`?lat=..&lng=..`), so it is
switched off and this middleware logs method, route, status, duration and a request id instead. The
route is the template (`/v1/payments/simulated/{ref}/pay`), never the path: paths carry payment
references and codes.
"""

import itertools
import logging
import secrets
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lbs_service import metrics
from lbs_service.log_format import request_id_var

log = logging.getLogger("lbs.access")


_PROCESS = secrets.token_hex(4)  # request ids: this process's random prefix, then a counter
_SERIAL = itertools.count(1)


def begin_request() -> str:
    """A new request id, unique across processes without a random draw per request; every line
    logged while serving the request carries it (JSON logs)."""
    request_id = f"{_PROCESS}{next(_SERIAL) & 0xFFFFFFFF:08x}"
    request_id_var.set(request_id)
    return request_id


_REQUEST_METRICS: dict[tuple[str, str, int], tuple[Any, Any]] = {}  # bounded: methods x routes x statuses


def log_request(method: str, route: str, status: int, started: float, request_id: str) -> None:
    """The access line and the request metrics: the route is its template, so labels stay bounded."""
    elapsed_s = time.perf_counter() - started
    key = (method, route, status)
    bound = _REQUEST_METRICS.get(key)
    if bound is None:
        bound = _REQUEST_METRICS[key] = (
            metrics.bound("lbs_http_requests_total", method=method, route=route, status=str(status)),
            metrics.bound("lbs_http_request_seconds", route=route))
    bound[0].inc()
    bound[1].observe(elapsed_s)
    log.info("%s %s %d %.1fms id=%s", method, route, status, elapsed_s * 1e3, request_id)


class AccessLogMiddleware:
    """Logs and counts every HTTP request by its route template, and tags the answer with its id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = begin_request()
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log_request(scope["method"], getattr(scope.get("route"), "path", "unmatched"), status, started, request_id)


class DropQueryStrings(logging.Filter):
    """Uvicorn logs websocket handshakes with their full URL: `?token=` is a credential and
    `?lat=` a location, so any logged URL loses its query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_without_query(a) if isinstance(a, str) else a for a in record.args)
        return True


def _without_query(text: str) -> str:
    return text.split("?", 1)[0] if "?" in text and text.startswith("/") else text
