"""What `lbs serve` puts around the app: each answer leaves in one write (http_protocol.py), and
FastAPI's per-request telemetry probe is skipped only when no provider is configured (app.Served)."""

import asyncio
import socket
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from lbs_service import app as app_module
from lbs_service.app import Served, create_app
from lbs_service.finder import next_href
from lbs_service.http_protocol import OneSendTransport
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
