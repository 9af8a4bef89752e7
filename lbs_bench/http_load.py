"""A small HTTP/1.1 load generator over keep-alive connections, lean enough that one core drives
a few thousand requests a second (a general-purpose client spends more per request than the
endpoint under test).

Two shapes: closed loop (each connection sends its next request when the last one is answered:
the server's throughput) and open loop (requests scheduled at a fixed rate, latency counted from
the scheduled time, so a slow answer delays the ones behind it and is not hidden).
"""

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lbs_bench.timing import no_client_pauses


@dataclass
class LoadResult:
    requests: int
    errors: int  # non-200 answers or broken connections
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, headers: str = "") -> None:
        self.reader, self.writer, self.headers = reader, writer, headers

    @classmethod
    async def open(cls, host: str, port: int, headers: dict[str, str] | None = None) -> "Connection":
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items()))

    async def get(self, path: str) -> tuple[int, bytes]:
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n{self.headers}\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = next((int(line.split(":", 1)[1]) for line in lines[1:] if line.lower().startswith("content-length:")),
                      0)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


def _summary(latencies: list[float], errors: int, seconds: float) -> LoadResult:
    values = np.array(latencies) * 1e3 if latencies else np.array([float("nan")])
    return LoadResult(len(latencies), errors, seconds, len(latencies) / seconds, float(np.median(values)),
                      float(np.percentile(values, 99)), float(values.max()))


async def closed_loop(host: str, port: int, paths: Sequence[str], concurrency: int,
                      headers: dict[str, str] | None = None) -> LoadResult:
    latencies: list[float] = []
    errors, elapsed = await _closed(host, port, paths, concurrency, headers, latencies)
    return _summary(latencies, errors, elapsed)


async def alternating_closed_loops(host: str, ports: dict[str, int], paths: Sequence[str], concurrency: int,
                                   chunks: int, headers: dict[str, str] | None = None) -> dict[str, LoadResult]:
    """Closed loops on two servers, in `chunks` slices each taken back to back in ABBA order (A B, B A,
    A B ...): the machine's speed drifts (by a third between runs, measured), and this way a drift
    falls on both servers alike instead of on whichever ran second. The slices of each server add
    up to one result."""
    first, second = ports
    latencies: dict[str, list[float]] = {first: [], second: []}
    errors, seconds = dict.fromkeys(ports, 0), dict.fromkeys(ports, 0.0)
    size = -(-len(paths) // chunks)
    for k in range(chunks):
        part = paths[k * size:(k + 1) * size]
        for name in (first, second) if k % 2 == 0 else (second, first):
            failed, elapsed = await _closed(host, ports[name], part, concurrency, headers, latencies[name])
            errors[name] += failed
            seconds[name] += elapsed
    return {name: _summary(latencies[name], errors[name], seconds[name]) for name in ports}


async def _closed(host: str, port: int, paths: Sequence[str], concurrency: int, headers: dict[str, str] | None,
                  latencies: list[float]) -> tuple[int, float]:
    """Each connection sends its next request when the last one is answered; returns (errors, seconds)
    and adds each request's latency to `latencies`."""
    connections = [await Connection.open(host, port, headers) for _ in range(concurrency)]
    errors = 0
    cursor = iter(paths)

    async def worker(connection: Connection) -> None:
        nonlocal errors
        for path in cursor:  # a shared iterator: each path is sent once, by whichever connection is free
            t0 = time.perf_counter()
            status, _ = await connection.get(path)
            latencies.append(time.perf_counter() - t0)
            errors += status != 200

    try:
        with no_client_pauses():
            started = time.perf_counter()
            await asyncio.gather(*(worker(c) for c in connections))
            elapsed = time.perf_counter() - started
    finally:
        for connection in connections:
            connection.close()
    return errors, elapsed


async def open_loop(host: str, port: int, paths: Sequence[str], rate: float, connections: int,
                    headers: dict[str, str] | None = None) -> LoadResult:
    """Request i is due at start + i / rate; its latency runs from then, waiting for a free connection included."""
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(await Connection.open(host, port, headers))
    latencies: list[float] = []
    errors = 0

    async def one(path: str, due: float) -> None:
        nonlocal errors
        connection = await idle.get()
        try:
            status, _ = await connection.get(path)
            errors += status != 200
        finally:
            idle.put_nowait(connection)
        latencies.append(time.perf_counter() - due)

    tasks = []
    try:
        with no_client_pauses():
            started = time.perf_counter()
            for i, path in enumerate(paths):
                due = started + i / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(path, due)))
            # Only the few still running: a gather over every task stalled the client ~60 ms while the
            # last answers waited to be read.
            running = [task for task in tasks if not task.done()]
            if running:
                await asyncio.wait(running)
            elapsed = time.perf_counter() - started
        failed = [error for task in tasks if (error := task.exception()) is not None]
        if failed:
            raise failed[0]  # a request that failed outright fails the run (each one's error retrieved)
    finally:
        while not idle.empty():
            idle.get_nowait().close()
    return _summary(latencies, errors, elapsed)
