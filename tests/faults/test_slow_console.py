"""A console that stops reading: once the socket buffers and its queue (LBS_WS_QUEUE_LIMIT, the default
1,000) are full, the server stops queueing for it and closes it with 4008, which the
console sees after the data before it when it reads again (one that never reads again is dropped
after SLOW_CLOSE_WAIT_S, or by the keepalive); a console of the same store that reads keeps receiving every message."""

import asyncio
import base64
import contextlib
import json
import os
import socket
import time

import httpx

from lbs_service.outbox.writer import enqueue
from lbs_service.settings import Settings
from lbs_service.storage.db import Database
from lbs_service.storage.migrate import upgrade
from lbs_service.storage.stores import StoreRepository
from push.messages import store_channel
from tests.conftest import operator_headers
from tests.faults.report import FaultRun, record
from tests.live import live_server, token, ws_connect

MESSAGES = 8000
PAD_BYTES = 1500  # random, so per-message deflate cannot shrink it: about 16 MB in all, more than the
# kernel buffers between the server and a stalled client hold


def _stalled_socket(host: str, path: str) -> socket.socket:
    """A websocket client that completes the handshake and then never reads (a tiny receive buffer)."""
    address, port = host.split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((address, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def _close_code(sock: socket.socket) -> int | None:
    """Read everything the server sent and return the code of its close frame."""
    sock.settimeout(10)
    data = b""
    with contextlib.suppress(OSError):
        while chunk := sock.recv(1 << 20):
            data += chunk
    at = 0
    while at + 2 <= len(data):
        opcode, length, at = data[at] & 0x0F, data[at + 1] & 0x7F, at + 2
        if length == 126:
            length, at = int.from_bytes(data[at : at + 2], "big"), at + 2
        elif length == 127:
            length, at = int.from_bytes(data[at : at + 8], "big"), at + 8
        if opcode == 0x8:
            return int.from_bytes(data[at : at + 2], "big")
        at += length
    return None


def _metric(host: str, name: str) -> float:
    text = httpx.get(f"http://{host}/metrics", headers=operator_headers(Settings())).text
    return float(next((line.split()[1] for line in text.splitlines() if line.startswith(name + " ")), 0))


def test_a_console_that_stops_reading_is_closed_and_the_other_gets_everything(tmp_path):
    settings = Settings(database_url="", sqlite_path=tmp_path / "lbs.sqlite3", redis_url="", ws_queue_limit=1000)
    upgrade(settings)
    db = Database(settings)
    StoreRepository(db).upsert_many("Slow", [{
        "source_id": "S1", "name": "Busy cafe", "category": "cafe", "hours": None, "timezone": "Asia/Shanghai",
        "status": "open", "attributes": {}, "lat": 32.05, "lng": 118.78, "address": None, "phone": None}])
    store_id = 1
    staff = token(settings, "staff", "staff-1", store_id)
    with live_server(settings) as host:
        stalled = _stalled_socket(host, f"/v1/ws/stores/{store_id}?token={staff}")

        def commit_arrivals(begin: int) -> None:
            with db.transaction() as session:
                for n in range(begin, begin + 100):
                    enqueue(session, store_channel(store_id), {
                        "type": "arrival", "ts": str(n), "store_id": store_id, "user_ref": "r",
                        "pad": base64.b64encode(os.urandom(PAD_BYTES)).decode()})

        async def run() -> tuple[int, int | None]:
            async with ws_connect(host, f"/v1/ws/stores/{store_id}?token={staff}", max_size=None) as reader:
                assert await asyncio.to_thread(_metric, host, "lbs_websocket_subscribers") == 2

                async def read_all() -> int:  # the console that keeps up, reading while arrivals come in
                    received, deadline = 0, time.monotonic() + 60
                    while received < MESSAGES and time.monotonic() < deadline:
                        with contextlib.suppress(TimeoutError):
                            if json.loads(await asyncio.wait_for(reader.recv(), 1))["type"] == "arrival":
                                received += 1
                    return received

                async def read_again_once_closed() -> int | None:
                    """The stalled console reads again as soon as the server gave up on it (before the
                    keepalive would drop a peer that never reads): the data it was sent, then the close."""
                    deadline = time.monotonic() + 120
                    while not await asyncio.to_thread(_metric, host, "lbs_websocket_slow_closed_total"):
                        assert time.monotonic() < deadline, "the server never closed the stalled console"
                        await asyncio.sleep(0.1)
                    return await asyncio.to_thread(_close_code, stalled)

                reading = asyncio.create_task(read_all())
                stalled_reading = asyncio.create_task(read_again_once_closed())
                for begin in range(0, MESSAGES, 100):  # arrivals as a busy afternoon brings them, not one burst
                    await asyncio.to_thread(commit_arrivals, begin)
                    await asyncio.sleep(0.02)
                received = await reading
                code = await stalled_reading
                assert await asyncio.to_thread(_metric, host, "lbs_websocket_slow_closed_total") == 1
            return received, code

        received, code = asyncio.run(run())
        stalled.close()
        deadline = time.monotonic() + 5
        while _metric(host, "lbs_websocket_subscribers") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _metric(host, "lbs_websocket_subscribers") == 0
    record(FaultRun("a console that stops reading", MESSAGES, 0, 0, MESSAGES, MESSAGES - received))
    assert received == MESSAGES
    assert code == 4008
