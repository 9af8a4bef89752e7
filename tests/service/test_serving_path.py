"""What `lbs serve` puts around the app: each answer leaves in one write (http_protocol.py), and
FastAPI's per-request telemetry probe is skipped only when no provider is configured (app.Served)."""

import asyncio
import gc
import socket
from urllib.parse import parse_qsl, urlencode

import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from lbs_service import app as app_module
from lbs_service import collector
from lbs_service.app import Served, create_app
from lbs_service.finder import next_href
from lbs_service.http_protocol import HeaderDeadlineProtocol, OneSendTransport
from tests.clock import fixed_clock
from tests.live import live_server


class _Recorded:
    """A transport that keeps what is written to it."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True


async def test_a_head_and_its_body_leave_in_one_write():
    recorded = _Recorded()
    transport = OneSendTransport(recorded, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n")
    assert recorded.writes == []
    transport.write(b"body")
    transport.write(b"more")  # later writes go straight through
    assert recorded.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nbody", b"more"]
    await asyncio.sleep(0)  # the flush the head scheduled finds nothing held
    assert len(recorded.writes) == 2


async def test_a_head_whose_body_comes_later_leaves_at_the_next_turn():
    recorded = _Recorded()
    transport = OneSendTransport(recorded, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"head")
    await asyncio.sleep(0)
    assert recorded.writes == [b"head"]
    transport.write(b"chunk")
    assert recorded.writes == [b"head", b"chunk"]


async def test_closing_sends_what_is_held_first_and_a_closed_transport_gets_nothing():
    recorded = _Recorded()
    transport = OneSendTransport(recorded, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"head")
    transport.close()
    assert recorded.writes == [b"head"] and recorded.closed and transport.is_closing()

    gone = _Recorded()
    late = OneSendTransport(gone, asyncio.get_running_loop())  # type: ignore[arg-type]
    late.write(b"head")
    gone.closed = True  # the peer went away before the loop turned
    await asyncio.sleep(0)
    assert gone.writes == []


class _Wire(asyncio.Transport):
    """The connection's side of uvicorn's protocol: what it writes, and when it closes."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[bytes | str] = []
        self.closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.log.append(bytes(data) if not self.closing else "LOST")

    def close(self) -> None:
        self.closing = True
        self.log.append("CLOSE")

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str, default: object = None) -> object:
        return {"peername": ("10.0.0.1", 5000), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _streamed(request):
    async def parts():
        yield b"a"
        await asyncio.sleep(0.001)
        yield b"b"

    return StreamingResponse(parts())


async def _plain(request):
    return PlainTextResponse("hello")


_APP = Starlette(routes=[Route("/p", _plain, methods=["GET", "HEAD"]), Route("/s", _streamed)])


async def _wire(protocol_class, request: bytes, then=None) -> list[bytes | str]:
    config = Config(app=_APP, lifespan="off", log_level="critical")
    config.load()
    wire = _Wire()
    protocol = protocol_class(config, ServerState(), {}, _loop=asyncio.get_running_loop())
    protocol.connection_made(wire)
    protocol.data_received(request)
    if then is not None:
        asyncio.get_running_loop().call_soon(then, protocol)  # after the request's first step
    await asyncio.sleep(0.05)
    protocol.connection_lost(None)
    return wire.log


def _unstamped(log: list[bytes | str]) -> list[bytes | str]:
    """The log with the date header out (it may tick between two runs)."""
    return [b"".join(line for line in x.split(b"\r\n") if not line.startswith(b"date:"))
            if isinstance(x, bytes) else x for x in log]


@pytest.mark.parametrize("request_bytes", [
    b"GET /p HTTP/1.1\r\nhost: x\r\n\r\n",
    b"HEAD /p HTTP/1.1\r\nhost: x\r\n\r\n",
    b"GET /s HTTP/1.1\r\nhost: x\r\n\r\n",
    b"GET /p HTTP/1.0\r\n\r\n",
    b"GET /p HTTP/1.1\r\nhost: x\r\n\r\nHEAD /p HTTP/1.1\r\nhost: x\r\n\r\nGET /s HTTP/1.1\r\nhost: x\r\n\r\n",
])
async def test_the_bytes_on_the_wire_are_uvicorns_own(request_bytes):
    ours = await _wire(HeaderDeadlineProtocol, request_bytes)
    stock = await _wire(HttpToolsProtocol, request_bytes)
    assert b"".join(_unstamped([x for x in ours if isinstance(x, bytes)])) == b"".join(
        _unstamped([x for x in stock if isinstance(x, bytes)]))
    assert [x for x in ours if isinstance(x, str)] == [x for x in stock if isinstance(x, str)]
    assert len([x for x in ours if isinstance(x, bytes)]) <= len([x for x in stock if isinstance(x, bytes)])


@pytest.mark.parametrize("then", [lambda protocol: protocol.shutdown(),
                                  lambda protocol: protocol.data_received(b"\x00bad\r\n\r\n")])
async def test_a_head_answer_is_out_before_uvicorn_closes_the_connection(then):
    """A HEAD answer has no body to join its head: it leaves when the response completes, before a
    shutdown or a bad next request closes the connection in the same turn."""
    log = await _wire(HeaderDeadlineProtocol, b"HEAD /p HTTP/1.1\r\nhost: x\r\n\r\n", then)
    assert isinstance(log[0], bytes) and log[0].startswith(b"HTTP/1.1 200 OK")
    assert "LOST" not in log and log[-1] == "CLOSE"
    assert _unstamped(log) == _unstamped(await _wire(HttpToolsProtocol, b"HEAD /p HTTP/1.1\r\nhost: x\r\n\r\n", then))


def test_answers_from_the_live_server_arrive_whole_and_in_order(sqlite_settings):
    """Keep-alive requests, pipelined on one connection: every answer is complete, in request order."""
    with live_server(sqlite_settings) as host:
        address, port = host.split(":")
        with socket.create_connection((address, int(port))) as connection:
            request = f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
            missing = f"GET /v1/nope HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
            connection.sendall(request + missing + request)
            connection.settimeout(5)
            received = b""
            while received.count(b"HTTP/1.1 ") < 3 or not received.endswith(b"}"):
                chunk = connection.recv(65536)
                assert chunk, "the server closed the connection"
                received += chunk
    statuses = [part.split(b"\r\n", 1)[0] for part in received.split(b"HTTP/1.1 ")[1:]]
    assert statuses == [b"200 OK", b"404 Not Found", b"200 OK"]


def _probes(app) -> list[int]:
    calls: list[int] = []
    native = app._native_telemetry
    original = native.enabled

    def enabled() -> bool:
        calls.append(1)
        return original()

    native.enabled = enabled
    return calls


def test_with_no_telemetry_provider_requests_skip_fastapis_probe(sqlite_settings):
    app = create_app(sqlite_settings, fixed_clock())
    calls = _probes(app)
    with TestClient(Served(app)) as client:
        assert app.state.telemetry_off
        assert client.get("/healthz").status_code == 200
        assert client.get("/v1/stores/nearby", params={"lat": 39.9, "lng": 116.4}).status_code == 200
        assert client.get("/v1/stores/nearby", params={"lat": 91, "lng": 0}).status_code == 422
        with client.websocket_connect("/v1/ws/user") as socket_:  # websockets take the same way
            socket_.receive()
    assert calls == [1]  # once, when the app started


def test_the_collector_is_tuned_while_serving_and_left_as_found_after(sqlite_settings):
    """Start-up freezes what it built and raises the collector's thresholds for the sockets' sake;
    the last app to stop gives both back, so a process that goes on (tests, an embedding host)
    keeps its own - also when two apps overlap and stop in the order they started."""
    before = gc.get_threshold()
    first = TestClient(Served(create_app(sqlite_settings, fixed_clock())))
    second = TestClient(Served(create_app(sqlite_settings, fixed_clock())))
    first.__enter__()
    assert gc.get_threshold() == collector.GC_THRESHOLDS
    assert gc.get_freeze_count() > 0
    second.__enter__()
    first.__exit__(None, None, None)
    assert gc.get_threshold() == collector.GC_THRESHOLDS  # the second still serves
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_what_the_host_froze_itself_stays_frozen(sqlite_settings):
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with TestClient(Served(create_app(sqlite_settings, fixed_clock()))):
            pass
        assert gc.get_freeze_count() >= frozen
    finally:
        gc.unfreeze()


def test_with_a_telemetry_provider_fastapi_instruments_every_request(sqlite_settings, monkeypatch):
    monkeypatch.setattr(app_module, "_telemetry_configured", lambda app: True)
    app = create_app(sqlite_settings, fixed_clock())
    calls = _probes(app)
    with TestClient(Served(app)) as client:
        assert not app.state.telemetry_off
        assert client.get("/healthz").status_code == 200
        assert client.get("/v1/stores/nearby", params={"lat": 39.9, "lng": 116.4}).status_code == 200
    assert len(calls) == 2  # FastAPI asked, for each request


@pytest.mark.parametrize("params", [
    [("lat", "39.9"), ("lng", "116.4"), ("limit", "20")],
    [("lat", "-12.5"), ("lng", "1e-3"), ("category", "cafe,bank")],
    [("q", "咖啡 店"), ("lat", "0"), ("lng", "0"), ("cursor", "old")],
    [("q", "a+b&c=d"), ("crs", "gcj02"), ("radius_m", "1000.0")],
    [("q", "~._-"), ("lat", "1"), ("lng", "2")],
])
def test_a_next_link_is_the_question_urlencoded_with_the_new_cursor(params):
    expected = "/v1/stores/nearby?" + urlencode([(k, v) for k, v in params if k != "cursor"] + [("cursor", "Abc-_9")])
    assert next_href("/v1/stores/nearby", params, "Abc-_9") == expected


@pytest.mark.parametrize("sent", [
    "lat=39.9&lng=116.4&limit=20", "lat=-12.5&lng=1e-3&category=cafe", "lat=1&lng=2&cursor=old",
    "cursor=old&lat=1&lng=2", "lat=1&lng=2&xcursor=a", "q=%E5%92%96&lat=0", "q=a+b&lat=0", "lat=1&flag",
    "lat=1&&lng=2", "lat=&lng=2", "lat=1&lng=2&", "lat=1=2&lng=3", "lat=~._-&lng=2",
])
def test_a_next_link_from_the_query_as_sent_is_the_link_from_its_pairs(sent):
    pairs = parse_qsl(sent, keep_blank_values=True)
    assert next_href("/p", pairs, "C9", sent) == next_href("/p", pairs, "C9")
