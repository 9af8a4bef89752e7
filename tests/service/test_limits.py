"""Abuse limits: request bodies over 64 KiB, websocket frames over 64 KiB, and per-user rate limits
that hold across workers because they are counted in Redis."""

import json
import uuid

import pytest
import redis as sync_redis
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from lbs_service.auth import Principal, mint_token
from lbs_service.errors import TooManyRequests
from lbs_service.rate_limits import RateLimiter, Rule
from lbs_service.settings import Settings
from tests.clock import at, iso
from tests.conftest import _service_url, client_for, forget_redis_prefix, operator_headers
from tests.live import live_server


def _bearer(settings: Settings, role: str = "user", subject: str = "limit-user") -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings, Principal(role, subject))}"}  # type: ignore[arg-type]


def test_bodies_over_64_kib_get_413_declared_or_chunked(sqlite_client, sqlite_settings):
    headers = {**operator_headers(sqlite_settings), "Content-Type": "application/json"}
    big = json.dumps({"source_id": "X", "name": "x" * 70_000, "lat": 31.2, "lng": 121.4})
    declared = sqlite_client.post("/v1/stores", content=big, headers=headers)
    assert declared.status_code == 413
    assert declared.headers["content-type"] == "application/problem+json"
    assert "65536" in declared.json()["detail"]

    def chunks():
        for start in range(0, len(big), 8192):
            yield big[start : start + 8192].encode()

    chunked = sqlite_client.post("/v1/stores", content=chunks(), headers=headers)
    assert chunked.status_code == 413
    small = sqlite_client.post("/v1/stores", json={"source_id": "S", "name": "x" * 60_000, "lat": 31.2, "lng": 121.4},
                               headers=operator_headers(sqlite_settings))
    assert small.status_code != 413  # under the limit the body reaches validation (the name is too long there)
    assert sqlite_client.get("/v1/stores/nearby", params={"lat": 31.2, "lng": 121.4}).status_code == 200


def test_websocket_frame_over_64_kib_closes_1009(sqlite_settings):
    with live_server(sqlite_settings) as base:
        token = mint_token(sqlite_settings, Principal("user", "big-frames"))
        with connect(f"ws://{base}/v1/ws/user?token={token}") as ws:
            ws.send('{"type":"ping"}')
            assert json.loads(ws.recv(timeout=5))["type"] == "pong"
            ws.send("x" * 70_000)
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


@pytest.fixture
def shared_redis_settings(tmp_path):
    """Two workers' settings: the same database file and the same Redis, tight fix limit."""
    prefix = f"lbs-limits-{uuid.uuid4().hex[:8]}"
    url = _service_url("LBS_TEST_REDIS_URL")
    from lbs_service.storage.migrate import upgrade

    settings = Settings(database_url="", sqlite_path=tmp_path / "lbs.sqlite3", redis_url=url, redis_prefix=prefix,
                        rate_limit_rules={"fix": (5, 60), "fix_batch": (2, 60)}, change_feed_poll_s=0.05)
    upgrade(settings)
    yield settings
    forget_redis_prefix(url, prefix)


_next_second = iter(range(10**9))


def _now() -> str:
    """Fix times before T0 (never in the server's future), each later than the last one handed out."""
    return iso(next(_next_second) - 100_000)


def _fixes(n: int) -> dict:
    return {"fixes": [{"lat": 31.23 + i * 1e-5, "lng": 121.47, "accuracy_m": 10, "ts": _now()} for i in range(n)]}


def test_batch_limit_holds_across_two_workers_and_a_refusal_costs_nothing(shared_redis_settings):
    settings = shared_redis_settings
    with client_for(settings) as first, client_for(settings) as second:
        big = first.post("/v1/users/me/locations", json=_fixes(1000), headers=_bearer(settings))
        assert big.status_code == 200 and big.json()["accepted"] == 1000  # any batch the schema allows
        counters = sync_redis.Redis.from_url(settings.redis_url)
        keys = list(counters.scan_iter(f"{settings.redis_prefix}:rl:*fix_batch*"))
        assert keys and all(0 < counters.pttl(key) <= 60_000 for key in keys)  # counters expire with the window
        assert second.post("/v1/users/me/locations", json=_fixes(2), headers=_bearer(settings)).status_code == 200
        refused = second.post("/v1/users/me/locations", json=_fixes(1), headers=_bearer(settings))
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        also = first.post("/v1/users/me/locations", json=_fixes(1), headers=_bearer(settings))
        assert also.status_code == 429  # the other worker counts the same window
        assert [int(counters.get(key)) for key in keys] == [2]  # the refusals did not use the window up
        counters.close()
        other_user = first.post("/v1/users/me/locations", json=_fixes(1), headers=_bearer(settings, subject="other"))
        assert other_user.status_code == 200


def test_websocket_fixes_over_the_limit_get_an_error_and_the_socket_stays(shared_redis_settings):
    settings = shared_redis_settings
    with live_server(settings) as base:
        token = mint_token(settings, Principal("user", "ws-limited"))
        with connect(f"ws://{base}/v1/ws/user?token={token}") as ws:
            errors = []
            for i in range(7):
                ws.send(json.dumps({"type": "location", "lat": 31.23 + i * 1e-5, "lng": 121.47, "accuracy_m": 10,
                                    "ts": _now()}))
            ws.send('{"type":"ping"}')
            while True:
                message = json.loads(ws.recv(timeout=5))
                if message["type"] == "pong":
                    break
                if message["type"] == "error":
                    errors.append(message)
            assert len(errors) == 2 and all(e["retry_after_s"] >= 1 for e in errors)


def test_cors_names_origins_and_never_allows_everyone(tmp_path):
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        Settings(cors_origins=["*"])
    settings = Settings(database_url="", sqlite_path=tmp_path / "lbs.sqlite3", redis_url="",
                        cors_origins=["https://portal.example"])
    from lbs_service.storage.migrate import upgrade

    upgrade(settings)
    with client_for(settings) as client:
        preflight = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
        allowed = client.options("/v1/stores/nearby", headers={"Origin": "https://portal.example", **preflight})
        assert allowed.headers["access-control-allow-origin"] == "https://portal.example"
        assert "access-control-allow-credentials" not in allowed.headers
        other = client.get("/v1/stores/nearby?lat=31.2&lng=121.4", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_requests_per_token_and_claims_are_limited_too(tmp_path):
    """The in-process counters (one worker, no Redis) follow the same rules."""
    from lbs_service.storage.migrate import upgrade

    settings = Settings(database_url="", sqlite_path=tmp_path / "lbs.sqlite3", redis_url="",
                        rate_limit_rules={"token": (5, 60), "claim": (2, 60)})
    upgrade(settings)
    with client_for(settings) as client:
        user = _bearer(settings, subject="busy")
        answers = [client.get("/v1/users/me/consent", headers=user).status_code for _ in range(6)]
        assert answers == [200] * 5 + [429]
        other = _bearer(settings, subject="calm")
        claims = [client.post("/v1/campaigns/999/claim", headers=other).status_code for _ in range(3)]
        assert claims[:2] == [404, 404] and claims[2] == 429  # counted before the campaign is looked up


async def test_windows_follow_the_service_clock_not_the_wall_clock():
    """A server under test runs on a clock from T0: its windows start where that clock says, so a
    test never meets a window's edge by the hour it happens to run at."""
    now = [at(59.0)]  # one second before a minute's edge
    limiter = RateLimiter({"ack": Rule(2, 60)}, clock=lambda: now[0])
    await limiter.check("ack", "staff")
    await limiter.check("ack", "staff")
    with pytest.raises(TooManyRequests):
        await limiter.check("ack", "staff")
    now[0] = at(60.0)  # the service clock crosses into the next window
    await limiter.check("ack", "staff")
