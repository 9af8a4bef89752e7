"""A real uvicorn server in a thread, for tests that talk websockets with timeouts."""

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime

import uvicorn
from websockets.asyncio.client import connect

from lbs_service.app import Served, create_app
from lbs_service.auth import Principal, mint_token
from lbs_service.settings import Settings
from tests.clock import at, fixed_clock


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def live_server(settings: Settings) -> Iterator[str]:
    port = free_port()
    app = Served(create_app(settings, fixed_clock()))  # as `lbs serve` serves it (asgi.py)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws=settings.ws_impl,
                            ws_max_size=65536, ws_per_message_deflate=False,
                            http="lbs_service.http_protocol:HeaderDeadlineProtocol")  # as `lbs serve` runs it
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def token(settings: Settings, role: str, subject: str, store_id: int | None = None,
          merchant_id: int | None = None) -> str:
    return mint_token(settings, Principal(role, subject, store_id, merchant_id))  # type: ignore[arg-type]


_fix_seconds = iter(range(1, 10**9))  # every fix a second after the one before, from T0


def fix(lat: float, lng: float, ts: datetime | None = None, accuracy: float = 10.0) -> str:
    """A location message; without `ts`, a second after the previous one (T0-based)."""
    return json.dumps({"type": "location", "lat": lat, "lng": lng, "accuracy_m": accuracy,
                       "ts": (ts or at(next(_fix_seconds))).isoformat()})


async def receive(ws, timeout: float = 3.0):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def drain(ws, quiet: float = 0.5) -> list[dict]:
    got = []
    with contextlib.suppress(asyncio.TimeoutError):
        while True:
            got.append(await receive(ws, quiet))
    return got


def ws_connect(host: str, path: str, **kwargs):
    return connect(f"ws://{host}{path}", open_timeout=5, **kwargs)
