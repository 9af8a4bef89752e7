"""Location privacy: a user exports and erases their location data; raw fixes expire; logs of a
whole session hold no precise coordinate and no token."""

import asyncio
import json
import re
import time
import uuid
from datetime import UTC, datetime

import httpx
import pytest
import redis as sync_redis
from websockets.sync.client import connect

from geo_index.fences import Fix, UserFences
from lbs_service.auth import Principal, mint_token
from lbs_service.settings import Settings
from push.fence_store import InProcessFenceStore
from tests.conftest import _service_url, client_for, forget_redis_prefix, operator_headers
from tests.processes import lbs_servers

STORE = {"source_id": "PRIV-1", "name": "Corner shop", "lat": 31.2304, "lng": 121.4737}


def _now(offset_s: float = 0.0) -> str:
    return datetime.fromtimestamp(time.time() + offset_s, UTC).isoformat()


def _bearer(settings: Settings, subject: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings, Principal('user', subject))}"}


def _walk_in(client, settings, subject: str) -> dict:
    fixes = [{"lat": 31.2504, "lng": 121.4737, "accuracy_m": 10, "ts": _now(-60)},
             {"lat": 31.2306, "lng": 121.4739, "accuracy_m": 10, "ts": _now()}]
    response = client.post("/v1/users/me/locations", json={"fixes": fixes}, headers=_bearer(settings, subject))
    assert response.status_code == 200, response.text
    return response.json()


def test_user_exports_then_erases_their_location_data_and_only_theirs(sqlite_settings):
    settings = sqlite_settings
    with client_for(settings) as client:
        store_id = int(client.post("/v1/stores", json=STORE, headers=operator_headers(settings)).json()["id"])
        assert _walk_in(client, settings, "alice")["arrivals"] == [store_id]
        _walk_in(client, settings, "bob")
        client.app.state.services.demand.flush()

        exported = client.get("/v1/users/me/location-data", headers=_bearer(settings, "alice")).json()
        assert exported["fence_state"]["last_fix"]["lat"] == pytest.approx(31.2306)
        assert exported["fence_state"]["inside_store_ids"] == [store_id]
        assert [a["store_id"] for a in exported["arrivals"]] == [store_id]
        assert sum(exported["demand_cells_by_day"].values()) >= 1
        assert exported["fix_retention_s"] == settings.fix_retention_s

        erased = client.delete("/v1/users/me/location-data", headers=_bearer(settings, "alice")).json()["deleted"]
        assert erased["arrivals"] == 1 and erased["demand_cells"] >= 1
        after = client.get("/v1/users/me/location-data", headers=_bearer(settings, "alice")).json()
        assert after["fence_state"] is None and after["arrivals"] == [] and after["demand_cells_by_day"] == {}
        bob = client.get("/v1/users/me/location-data", headers=_bearer(settings, "bob")).json()
        assert bob["fence_state"] is not None and len(bob["arrivals"]) == 1 and bob["demand_cells_by_day"]
        staff = {"Authorization": f"Bearer {mint_token(settings, Principal('staff', 's', store_id))}"}
        assert client.get("/v1/users/me/location-data", headers=staff).status_code == 403


def test_in_process_checkpoints_expire_after_the_retention():
    store = InProcessFenceStore(ttl_s=0.05)
    state = UserFences(last=Fix(31.2, 121.4, 1.0, 10.0))

    async def run() -> tuple[object, object]:
        await store.save("u", state)
        kept = await store.load("u")
        await asyncio.sleep(0.1)
        return kept, await store.load("u")

    kept, expired = asyncio.run(run())
    assert kept == state and expired is None


def test_redis_checkpoints_carry_the_configured_retention(tmp_path):
    from lbs_service.storage.migrate import upgrade

    prefix = f"lbs-priv-{uuid.uuid4().hex[:8]}"
    url = _service_url("LBS_TEST_REDIS_URL")
    settings = Settings(database_url="", sqlite_path=tmp_path / "lbs.sqlite3", redis_url=url, redis_prefix=prefix,
                        fix_retention_s=120)
    upgrade(settings)
    raw = sync_redis.Redis.from_url(url)
    try:
        with client_for(settings) as client:
            _walk_in(client, settings, "carol")
        ttl = raw.ttl(f"{prefix}:fences:{{carol}}")
        assert 0 < ttl <= 120
    finally:
        raw.close()
        forget_redis_prefix(url, prefix)


def test_logs_of_a_whole_session_hold_no_precise_coordinates_or_tokens(tmp_path):
    """Debug-level JSON logs of searches, fixes over HTTP and websocket, errors: scanned line by line."""
    settings = Settings(database_url="", sqlite_path=tmp_path / "lbs.sqlite3", redis_url="")
    from lbs_service.storage.migrate import upgrade

    upgrade(settings)
    log_path = tmp_path / "server.log"
    env = {"LBS_DATABASE_URL": "", "LBS_SQLITE_PATH": str(settings.sqlite_path), "LBS_REDIS_URL": "",
           "LBS_LOG_FORMAT": "json", "LBS_SECRET_KEY": settings.secret_key}
    lat, lng = "31.234567", "121.474321"
    user_token = mint_token(settings, Principal("user", "dave"))
    with lbs_servers(env, 1, log_level="debug", log_path=log_path) as (host,):
        with httpx.Client(base_url=f"http://{host}") as client:
            client.post("/v1/stores", json={**STORE, "lat": float(lat), "lng": float(lng)},
                        headers=operator_headers(settings))
            assert client.get(f"/v1/stores/nearby?lat={lat}&lng={lng}").status_code == 200
            assert client.get(f"/v1/stores/nearby?lat=99.123456&lng={lng}").status_code == 422
            client.post("/v1/users/me/locations", json={"fixes": [{"lat": float(lat), "lng": float(lng),
                                                                   "accuracy_m": 10, "ts": _now(-5)}]},
                        headers={"Authorization": f"Bearer {user_token}"})
        with connect(f"ws://{host}/v1/ws/user?token={user_token}") as ws:
            ws.send(json.dumps({"type": "location", "lat": float(lat) + 1e-4, "lng": float(lng), "accuracy_m": 10,
                                "ts": _now()}))
            ws.send(json.dumps({"type": "location", "lat": 91.123456, "lng": float(lng), "ts": _now()}))
            ws.send('{"type":"ping"}')
            deadline = time.monotonic() + 5
            while json.loads(ws.recv(timeout=5))["type"] != "pong" and time.monotonic() < deadline:
                pass
    lines = log_path.read_text().splitlines()
    assert any("/v1/stores/nearby" in line for line in lines)  # the requests were logged, without their queries
    for line in lines:
        entry = json.loads(line)  # every line is one JSON object
        if entry["logger"] == "lbs.access":
            assert re.fullmatch(r"[0-9a-f]{16}", entry["request_id"])
        for secret in ("31.234", "121.474", "99.123", "91.123", user_token):
            assert secret not in line, line
