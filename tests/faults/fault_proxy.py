"""A small TCP proxy that injects faults between the service and Redis or PostgreSQL: added
latency, a black hole (connections accepted, bytes swallowed), or resets (every connection cut,
new ones refused). It runs its own event loop in a thread so synchronous tests can drive it.
"""

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Literal

Mode = Literal["pass", "latency", "blackhole", "reset"]


class FaultProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.mode: Mode = "pass"
        self.latency_s = 0.0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> "FaultProxy":
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._accept, "127.0.0.1", 0), self._loop).result(5)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        self.set("reset")

        async def close() -> None:
            assert self._server is not None
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def set(self, mode: Mode, latency_s: float = 0.0) -> None:
        """Switch faults; 'reset' also cuts every open connection at once."""
        self.mode, self.latency_s = mode, latency_s
        if mode == "reset":
            asyncio.run_coroutine_threadsafe(self._cut_all(), self._loop).result(5)

    async def _cut_all(self) -> None:
        for writer in list(self._links):
            with contextlib.suppress(Exception):
                writer.transport.abort()  # RST, not a polite FIN
        self._links.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "reset":
            writer.transport.abort()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._links.update((writer, upstream_writer))
        await asyncio.gather(self._pump(reader, upstream_writer), self._pump(upstream_reader, writer),
                             return_exceptions=True)
        for end in (writer, upstream_writer):
            self._links.discard(end)
            with contextlib.suppress(Exception):
                end.transport.abort()

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        while data := await source.read(65536):
            if self.mode == "blackhole":
                continue  # swallowed: the peer waits for an answer that never comes
            if self.mode == "latency" and self.latency_s:
                await asyncio.sleep(self.latency_s)
            sink.write(data)
            await sink.drain()
        sink.transport.abort()


@contextlib.contextmanager
def fault_proxy(host: str, port: int) -> Iterator[FaultProxy]:
    proxy = FaultProxy(host, port).start()
    try:
        yield proxy
    finally:
        proxy.stop()
