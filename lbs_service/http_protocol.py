"""Uvicorn's HTTP protocol with a deadline on request headers, and each answer in one write.

Uvicorn times out idle keep-alive connections but not a request whose headers trickle in a byte at
a time: one such connection stayed open for 300 s. Here the headers of every request (and the first
bytes of a new connection) must arrive within HEADER_TIMEOUT_S, or the connection is closed.

Uvicorn writes a response's head as soon as the app starts it and the body after: two socket sends
and two packets for every answer. Profiled at nearby's rate, the first send alone was 15 % of the
worker's time. Here the head waits for the body and both leave in one send (a head without a body
leaves when the response completes, or at the loop's next turn, whichever comes first).

`lbs serve` runs with `http="lbs_service.http_protocol:HeaderDeadlineProtocol"`.
"""

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEADER_TIMEOUT_S = 10.0


class HeaderDeadlineProtocol(HttpToolsProtocol):
    header_timeout_s = HEADER_TIMEOUT_S
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        before = self.cycle
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle is not before:  # a new request's cycle (not an upgrade)
            one_send = cycle.transport = OneSendTransport(self.transport, self.loop)  # type: ignore[assignment]
            completed = cycle.on_response

            def on_response() -> None:  # a complete answer is out before uvicorn may close the connection
                one_send.flush()
                completed()

            cycle.on_response = on_response

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _headers_too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()


class OneSendTransport:
    """What a request's cycle writes through: its first write (the response's head) is held until the
    next write joins it, the response is complete (a HEAD answer has no body), or the loop's next
    turn; every later write goes straight through."""

    __slots__ = ("first", "held", "loop", "transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.transport, self.loop = transport, loop
        self.held: bytes | None = None
        self.first = True

    def write(self, data: bytes) -> None:
        if self.first:
            self.first = False
            self.held = data
            self.loop.call_soon(self.flush)  # a head whose body comes later still goes out now
            return
        if self.held is not None:
            data, self.held = self.held + data, None
        self.transport.write(data)

    def flush(self) -> None:
        if self.held is not None:
            data, self.held = self.held, None
            if not self.transport.is_closing():
                self.transport.write(data)

    def is_closing(self) -> bool:
        return self.transport.is_closing()

    def close(self) -> None:
        self.flush()
        self.transport.close()
