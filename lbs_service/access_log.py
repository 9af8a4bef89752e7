"""Request logging that never records where a user is.

Uvicorn's access log prints query strings, and ours carry coordinates (`?lat=..&lng=..`), so it is
switched off and this middleware logs method, route, status, duration and a request id instead. The
route is the template (`/v1/payments/simulated/{ref}/pay`), never the path: paths carry payment
references and codes.
"""

import logging
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lbs_service import metrics
from lbs_service.log_format import request_id_var

log = logging.getLogger("lbs.access")


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex[:16]
        request_id_var.set(request_id)  # every line logged while serving it carries the id (JSON logs)
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
            elapsed_ms = (time.perf_counter() - started) * 1e3
            route = getattr(scope.get("route"), "path", "unmatched")  # the template: bounded label values
            metrics.count("lbs_http_requests_total", method=scope["method"], route=route, status=str(status))
            metrics.observe("lbs_http_request_seconds", elapsed_ms / 1e3, route=route)
            log.info("%s %s %d %.1fms id=%s", scope["method"], route, status, elapsed_ms, request_id)


class DropQueryStrings(logging.Filter):
    """Uvicorn logs websocket handshakes with their full URL: `?token=` is a credential and
    `?lat=` a location, so any logged URL loses its query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_without_query(a) if isinstance(a, str) else a for a in record.args)
        return True


def _without_query(text: str) -> str:
    return text.split("?", 1)[0] if "?" in text and text.startswith("/") else text
