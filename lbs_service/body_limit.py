"""Request bodies larger than the limit get a 413 before any handler reads them.

A declared Content-Length over the limit is refused at once; a chunked body is counted as it
arrives and refused as soon as it passes the limit, so nobody can make the server buffer more.
(Raising from `receive` would not do: the framework turns errors while reading a body into 400.)
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lbs_service.problems import problem

MAX_BODY_BYTES = 64 * 1024
# A batch of up to 1,000 fixes (a phone catching up after a tunnel) is larger than any other body.
LARGER_BODIES = {"/v1/users/me/locations": 256 * 1024}


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app, self.default_max = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = LARGER_BODIES.get(scope["path"], self.default_max)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._refuse(scope, receive, send, limit)
            return
        seen = 0
        started = refused = False

        async def counting_receive() -> Message:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit and not started:
                    # Answer now and tell the app the client has gone: it stops reading, and
                    # whatever it would still send is dropped below.
                    refused = True
                    await self._refuse(scope, receive, send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counting_receive, guarded_send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = problem(413, "Request body too large", f"request bodies here are limited to {limit} bytes")
        await response(scope, receive, send)
