"""A push service stand-in (RFC 8030) and the browsers subscribed to it, for the Web Push tests.

It does what a real push service and browser would together: checks the VAPID header (RFC 8292) -
an ES256 JWT signed by the key the app publishes, `aud` the endpoint's origin, `exp` in the future
and at most 24 h ahead - checks the RFC 8030 headers, and decrypts the body (RFC 8291, aes128gcm)
with the subscription's private key. Tests assert on what it decrypted. Answers can be scripted per
subscription (e.g. 503 then 201). Everything it was sent is kept, including what it refused.
"""

import base64
import contextlib
import json
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Browser:
    """One browser's subscription keys: the private half stays here, as in a real browser."""

    name: str
    private_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def p256dh(self) -> str:
        return b64url(self.private_key.public_key().public_bytes(serialization.Encoding.X962,
                                                                 serialization.PublicFormat.UncompressedPoint))


@dataclass
class Received:
    """One request the stand-in got."""

    browser: str | None
    status: int  # what it answered
    headers: dict[str, str]
    payload: dict[str, Any] | None  # decrypted, when it could be
    problem: str | None  # why it was refused, when it was
    at: float


class PushServiceStandIn:
    def __init__(self) -> None:
        self.app_key: str | None = None  # the application server key the app publishes
        self.browsers: dict[str, Browser] = {}
        self.script: dict[str, list[tuple[int, dict[str, str]]]] = {}
        self.stalls: dict[str, float] = {}
        self.received: list[Received] = []
        self.arrived: list[str] = []  # browsers named by requests as they come in, answered or not yet
        self._lock = threading.Lock()
        ThreadingHTTPServer.request_queue_size = 256  # many pushes at once: none refused at the door
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.handle_error = lambda request, address: None  # type: ignore[method-assign]  # a client gone
        self.port = int(self._server.server_address[1])
        self.origin = f"http://127.0.0.1:{self.port}"

    def subscription(self, browser: Browser) -> dict[str, Any]:
        """What the browser's PushSubscription.toJSON() would give."""
        self.browsers[browser.name] = browser
        return {"endpoint": f"{self.origin}/push/{browser.name}", "expirationTime": None,
                "keys": {"p256dh": browser.p256dh, "auth": b64url(browser.auth)}}

    def answer(self, browser: Browser, *answers: int | tuple[int, dict[str, str]]) -> None:
        """The next answers for this browser's endpoint (then 201)."""
        self.script[browser.name] = [a if isinstance(a, tuple) else (a, {}) for a in answers]

    def hang(self, browser: Browser, seconds: float) -> None:
        """Requests for this browser are held this long before any answer (a push service that stalls)."""
        self.stalls[browser.name] = seconds

    def delivered(self, browser: str | None = None) -> list[dict[str, Any]]:
        """Payloads accepted (2xx), in order."""
        with self._lock:
            return [r.payload for r in self.received if 200 <= r.status < 300 and r.payload is not None
                    and (browser is None or r.browser == browser)]

    def wait_for(self, count: int, timeout_s: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        raise AssertionError(f"the push service got {len(self.received)} requests, expected {count}")

    @contextlib.contextmanager
    def running(self) -> Iterator["PushServiceStandIn"]:
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()

    # ---- checking one request -----------------------------------------------------------------
    def _check(self, path: str, headers: dict[str, str], body: bytes) -> tuple[str | None, dict[str, Any]]:
        name = path.removeprefix("/push/")
        browser = self.browsers.get(name)
        if browser is None:
            raise Refused(404, "no such subscription")
        scheme, _, params = headers.get("authorization", "").partition(" ")
        fields = dict(p.strip().split("=", 1) for p in params.split(",") if "=" in p)
        if scheme.lower() != "vapid" or {"t", "k"} - fields.keys():
            raise Refused(401, "no VAPID authorization (RFC 8292: vapid t=..., k=...)")
        if fields["k"] != self.app_key:
            raise Refused(403, "signed with a key other than the one the app publishes")
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(fields["k"]))
        try:  # the signature, aud, and exp still ahead (PyJWT compares exp with the real time, as a push service)
            claims = jwt.decode(fields["t"], public, algorithms=["ES256"], audience=self.origin,
                                options={"require": ["exp", "aud", "sub"]})
        except jwt.PyJWTError as error:
            raise Refused(403, f"VAPID JWT refused: {error}") from error
        with contextlib.suppress(jwt.ExpiredSignatureError):  # a leeway of -24 h: "is exp more than 24 h ahead?"
            jwt.decode(fields["t"], public, algorithms=["ES256"], audience=self.origin, leeway=-24 * 3600)
            raise Refused(403, "VAPID exp more than 24 h ahead (RFC 8292 allows 24 h)")
        if not str(claims["sub"]).startswith(("mailto:", "https:")):
            raise Refused(403, "VAPID sub is a mailto: or https: contact")
        if headers.get("content-encoding") != "aes128gcm":
            raise Refused(415, "content encoding is not aes128gcm")
        if not headers.get("ttl", "").isdigit():
            raise Refused(400, "no TTL")
        if not TOPIC.match(headers.get("topic", "")):
            raise Refused(400, "a topic is 1-32 base64url characters")
        if headers.get("urgency") not in ("very-low", "low", "normal", "high"):
            raise Refused(400, "bad urgency")
        plain = http_ece.decrypt(body, private_key=browser.private_key, auth_secret=browser.auth,
                                 version="aes128gcm")
        return name, json.loads(plain)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                name, payload, problem, extra = self.path.removeprefix("/push/"), None, None, {}
                with stand_in._lock:
                    stand_in.arrived.append(name)
                time.sleep(stand_in.stalls.get(name, 0.0))
                try:
                    name, payload = stand_in._check(self.path, headers, body)
                    with stand_in._lock:
                        queue = stand_in.script.get(name, [])
                        status, extra = queue.pop(0) if queue else (201, {})
                except Refused as refusal:
                    status, problem = refusal.status, refusal.problem
                with stand_in._lock:
                    stand_in.received.append(Received(name, status, headers, payload, problem, time.monotonic()))
                self.send_response(status)
                for key, value in extra.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        return Handler


class Refused(Exception):
    def __init__(self, status: int, problem: str) -> None:
        super().__init__(problem)
        self.status, self.problem = status, problem
