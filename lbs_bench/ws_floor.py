"""`lbs bench ws-floor`: what one websocket message costs a server before any of our code runs.

A bare ASGI endpoint (ws_sink.py) under the same uvicorn our servers run, once per websocket
implementation uvicorn offers us, takes the push benchmark's fix messages at a paced rate from the
same kind of client. Server CPU comes from /proc over the load; the client's from its own process.
Every message sent is checked as read (each socket's count, asked by a ping at the end).
"""

import asyncio
import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from subprocess import Popen
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect

from lbs_bench.cpu import cpu_seconds
from lbs_bench.ports import free_port, stop
from lbs_bench.push_load import BEIJING, location_message
from lbs_bench.timing import machine, no_client_pauses

IMPLEMENTATIONS = ("wsproto", "websockets-sansio")


@dataclass(frozen=True)
class WsFloorConfig:
    rate: float = 5_000.0  # messages/s over all sockets
    seconds: float = 8.0
    connections: int = 200
    implementations: tuple[str, ...] = IMPLEMENTATIONS


@contextlib.contextmanager
def _sink(implementation: str) -> Iterator[tuple[int, "Popen[bytes]"]]:
    port = free_port()
    server = Popen([sys.executable, "-m", "uvicorn", "lbs_bench.ws_sink:app", "--port", str(port), "--ws",
                               implementation, "--ws-per-message-deflate", "false", "--log-level", "warning",
                               "--no-access-log"])
    try:
        yield port, server
    finally:
        stop(server)


async def _connect(port: int, server: "Popen[bytes]", connections: int) -> list[ClientConnection]:
    for _ in range(150):  # the server may still be starting
        if server.poll() is not None:
            raise RuntimeError(f"the websocket sink exited with status {server.returncode}")
        try:
            first = await connect(f"ws://127.0.0.1:{port}/")
            break
        except OSError:
            await asyncio.sleep(0.1)
    else:
        raise RuntimeError(f"the websocket sink on port {port} did not start")
    return [first] + [await connect(f"ws://127.0.0.1:{port}/") for _ in range(connections - 1)]


async def _received(ws: ClientConnection) -> int:
    await ws.send('{"type":"ping"}')
    async for raw in ws:
        message = orjson.loads(raw)
        if message.get("type") == "pong":
            return int(message["received"])
    raise RuntimeError("the sink closed the socket")


async def _load(port: int, server: "Popen[bytes]", config: WsFloorConfig) -> dict[str, Any]:
    # A sink that stalls with its sockets open would hold every send and ping: bounded.
    async with asyncio.timeout(config.seconds * 3 + 60):
        return await _measure(port, server, config)


async def _measure(port: int, server: "Popen[bytes]", config: WsFloorConfig) -> dict[str, Any]:
    sockets = await _connect(port, server, config.connections)
    interval = len(sockets) / config.rate  # each socket's share of the rate
    per_socket = max(1, round(config.seconds / interval))

    async def send(n: int, ws: ClientConnection) -> None:
        await asyncio.sleep(interval * n / len(sockets))  # stagger, so the rate is even
        start = time.perf_counter()
        for k in range(per_socket):
            await asyncio.sleep(max(0.0, start + k * interval - time.perf_counter()))
            await ws.send(location_message(BEIJING[0], BEIJING[1]))

    with no_client_pauses():
        server_before, client_before = cpu_seconds([server.pid]), time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*(send(n, ws) for n, ws in enumerate(sockets)))
        received = sum(await asyncio.gather(*(_received(ws) for ws in sockets)))
        elapsed = time.perf_counter() - started
        server_s, client_s = cpu_seconds([server.pid]) - server_before, time.process_time() - client_before
    for ws in sockets:
        await ws.close()
    sent = per_socket * len(sockets)
    return {"sent": sent, "received": received, "seconds": elapsed, "messages_per_s": sent / elapsed,
            "server_cpu_s": server_s, "server_us_per_message": server_s / sent * 1e6,
            "client_us_per_message": client_s / sent * 1e6}


def run_ws_floor(config: WsFloorConfig, say: Callable[[str], None] = print) -> dict[str, Any]:
    results = []
    for implementation in config.implementations:
        with _sink(implementation) as (port, server):
            say(f"{implementation}: {config.connections} sockets, {config.rate:,.0f} messages/s for {config.seconds} s")
            results.append({"implementation": implementation} | asyncio.run(_load(port, server, config)))
    return {"benchmark": "ws-floor", "machine": machine(), "rate": config.rate, "connections": config.connections,
            "results": results}
