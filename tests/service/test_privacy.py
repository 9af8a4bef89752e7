"""Location privacy: a user exports and erases their location data - everything, everywhere, even
while their socket is open; fixes dated in the future are refused; raw fixes expire; logs of a whole
session, database errors included, hold no precise coordinate, token, user id or payment reference."""

import asyncio
import json
import logging
import re
import time
import uuid
from datetime import datetime

import httpx
import pytest
import redis as sync_redis
from sqlalchemy import select, text
from websockets.sync.client import connect

from geo_index.fences import Fix
from geo_index.visits import VisitState
from lbs_service.auth import Principal, mint_token
from lbs_service.settings import Settings
from lbs_service.storage.db import Database
from lbs_service.storage.models import MemberEvent, OutboxMessage, PromotionSent, Visit
from push.fence_store import InProcessFenceStore, dump_state
from tests.clock import WIDE, iso
from tests.conftest import _service_url, client_for, forget_redis_prefix, operator_headers
from tests.live import live_server, receive, ws_connect
from tests.processes import lbs_servers

STORE = {"source_id": "PRIV-1", "name": "Corner shop", "lat": 31.2304, "lng": 121.4737}
_next = iter(range(10**9))


def _now(offset_s: float = 0.0) -> str:
    """Fix times just before T0, each later than the last one handed out."""
    return iso(next(_next) - 10_000 + offset_s)


def _bearer(settings: Settings, subject: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings, Principal('user', subject))}"}


def _walk_in(client, settings, subject: str) -> dict:
    fixes = [{"lat": 31.2504, "lng": 121.4737, "accuracy_m": 10, "ts": _now()},
             {"lat": 31.2306, "lng": 121.4739, "accuracy_m": 10, "ts": _now()}]
    response = client.post("/v1/users/me/locations", json={"fixes": fixes}, headers=_bearer(settings, subject))
    assert response.status_code == 200, response.text
    return response.json()


def _all_cards(settings: Settings) -> Settings:
    return settings.model_copy(update={"staff_alerts": "all", "arrive_radius_m": 1000.0})


def test_user_exports_then_erases_their_location_data_and_only_theirs(sqlite_settings):
    settings = _all_cards(sqlite_settings)
    with client_for(settings) as client:
        store_id = int(client.post("/v1/stores", json=STORE, headers=operator_headers(settings)).json()["id"])
        assert _walk_in(client, settings, "alice")["arrivals"] == [store_id]
        _walk_in(client, settings, "bob")
        client.app.state.services.demand.flush()

        exported = client.get("/v1/users/me/location-data", headers=_bearer(settings, "alice")).json()
        assert exported["fence_state"]["recent_fixes"][-1]["lat"] == pytest.approx(31.2306)
        assert exported["fence_state"]["visits"] == [{"store_id": store_id, "stage": "arrived"}]
        assert [v["store_id"] for v in exported["visits"]] == [store_id]
        assert [a["store_id"] for a in exported["arrivals"]] == [store_id]
        assert exported["messages_about_you"] == 1  # the card their arrival put on the store's console
        assert sum(exported["demand_cells_by_day"].values()) >= 1
        assert exported["fix_retention_s"] == settings.fix_retention_s

        erased = client.delete("/v1/users/me/location-data", headers=_bearer(settings, "alice")).json()["deleted"]
        assert erased["visits"] == 1 and erased["arrivals"] == 1 and erased["messages"] == 1
        assert erased["demand_cells"] >= 1 and erased["stream_copies"] == 1
        after = client.get("/v1/users/me/location-data", headers=_bearer(settings, "alice")).json()
        assert after["fence_state"] is None and after["arrivals"] == [] and after["visits"] == []
        assert after["demand_cells_by_day"] == {} and after["messages_about_you"] == 0
        bob = client.get("/v1/users/me/location-data", headers=_bearer(settings, "bob")).json()
        assert bob["fence_state"] is not None and len(bob["visits"]) == 1 and bob["demand_cells_by_day"]
        staff = {"Authorization": f"Bearer {mint_token(settings, Principal('staff', 's', store_id))}"}
        assert client.get("/v1/users/me/location-data", headers=staff).status_code == 403


@pytest.mark.redis
async def test_an_erasure_reaches_everything_even_with_the_socket_open(tmp_path):
    """Visits, events, promotions, outbox rows, the user's stream, the store stream's copies, the
    checkpoint, and the state the open socket's worker holds: none of it survives, and closing the
    socket afterwards does not bring the last fixes back."""
    from lbs_service.storage.migrate import upgrade

    prefix = f"lbs-erase-{uuid.uuid4().hex[:8]}"
    url = _service_url("LBS_TEST_REDIS_URL")
    settings = _all_cards(Settings(database_url="", sqlite_path=tmp_path / "lbs.sqlite3", redis_url=url,
                                   redis_prefix=prefix, change_feed_poll_s=0.05))
    upgrade(settings)
    raw = sync_redis.Redis.from_url(url)
    user = _bearer(settings, "erin")
    try:
        with live_server(settings) as host:
            async with httpx.AsyncClient(base_url=f"http://{host}") as http:
                always = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
                store_id = int((await http.post("/v1/stores", json={**STORE, "hours": always},
                                                headers=operator_headers(settings))).json()["id"])
                await http.post("/v1/campaigns", headers=operator_headers(settings),
                                json={"title": "Welcome", "level": "platform", **WIDE})
                await http.put("/v1/users/me/consent", headers=user, json={"location_marketing": True})
                await asyncio.sleep(0.3)  # the store reaches the worker's index
                before = [_now(), _now()]
                async with ws_connect(host, f"/v1/ws/user?token={user['Authorization'][7:]}") as app:
                    await app.send(json.dumps({"type": "location", "lat": 31.2504, "lng": 121.4737,
                                               "accuracy_m": 10, "ts": before[0]}))
                    await app.send(json.dumps({"type": "location", "lat": 31.2306, "lng": 121.4739,
                                               "accuracy_m": 10, "ts": before[1]}))
                    assert (await receive(app))["type"] == "promotion"
                    await asyncio.sleep(0.5)  # the card and the checkpoint are written
                    erased = (await http.delete("/v1/users/me/location-data", headers=user)).json()["deleted"]
                    assert erased["visits"] == 1 and erased["promotions"] == 1 and erased["messages"] == 2
                    assert erased["stream_copies"] == 2
                    store_stream = raw.xrange(f"{prefix}:{{store:{store_id}}}:stream")
                    assert all(b"arrival" not in fields[b"m"] for _, fields in store_stream)
                    assert raw.exists(f"{prefix}:{{user:erin}}:stream") == 0
                    assert raw.exists(f"{prefix}:fences:{{erin}}") == 0
                    await app.send(json.dumps({"type": "location", "lat": 31.2305, "lng": 121.4739,
                                               "accuracy_m": 10, "ts": _now()}))  # new data, after the erasure
                    await app.send('{"type":"ping"}')
                    while (await receive(app))["type"] != "pong":
                        pass
                await asyncio.sleep(0.3)
                exported = (await http.get("/v1/users/me/location-data", headers=user)).json()
        fixes = exported["fence_state"]["recent_fixes"]
        assert [f["lat"] for f in fixes] == [pytest.approx(31.2305)]  # only what came after the erasure
        erased_until = datetime.fromisoformat(before[1])
        db = Database(settings)
        with db.session() as session:
            stamps = [v.started_at for v in session.scalars(select(Visit).where(Visit.user_id == "erin"))]
            stamps += [p.sent_at for p in session.scalars(select(PromotionSent).where(PromotionSent.user_id == "erin"))]
            stamps += [e.at for e in session.scalars(select(MemberEvent).where(MemberEvent.user_id == "erin",
                                                                               MemberEvent.kind == "visit"))]
            stamps += [datetime.fromisoformat(m.payload["ts"]) for m in session.scalars(
                select(OutboxMessage).where(OutboxMessage.subject == "erin"))]
        db.dispose()
        assert stamps and all(stamp > erased_until for stamp in stamps)  # what is there is new, nothing older
    finally:
        raw.close()
        forget_redis_prefix(url, prefix)


def test_fixes_from_the_future_or_past_the_calendar_are_refused(sqlite_settings):
    with client_for(sqlite_settings) as client:
        user = _bearer(sqlite_settings, "future")
        for ts in (iso(3600), "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"):
            body = {"fixes": [{"lat": 31.2, "lng": 121.4, "accuracy_m": 10, "ts": ts}]}
            response = client.post("/v1/users/me/locations", json=body, headers=user)
            assert response.status_code == 422, (ts, response.text)
        ok = client.post("/v1/users/me/locations", json={"fixes": [
            {"lat": 31.2, "lng": 121.4, "accuracy_m": 10, "ts": iso(60)}]}, headers=user)  # a phone a minute fast
        assert ok.status_code == 200


def test_in_process_checkpoints_expire_after_the_retention():
    now = [1_000.0]
    store = InProcessFenceStore(ttl_s=60, clock=lambda: now[0])
    state = VisitState(last=Fix(31.2, 121.4, 1.0, 10.0))

    async def run() -> tuple[object, object, object]:
        await store.save("u", dump_state(state))
        now[0] += 60
        kept = await store.load("u")
        now[0] += 1
        expired = await store.load("u")
        return kept, expired, await store.load("u")

    kept, expired, gone = asyncio.run(run())
    assert kept is not None and kept.last == state.last and expired is None and gone is None


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


def test_database_errors_are_logged_without_their_parameters(sqlite_settings, caplog):
    """The engine hides bound parameters: a failing statement's log line names no coordinate or user."""
    db = Database(sqlite_settings)
    log = logging.getLogger("lbs_service.test")
    with caplog.at_level(logging.ERROR), pytest.raises(Exception) as failed, db.engine.connect() as connection:
        connection.execute(text("INSERT INTO no_such_table VALUES (:lat, :who)"),
                           {"lat": 31.234567, "who": "secret-user-id"})
    log.error("database failed", exc_info=failed.value)
    assert "no_such_table" in caplog.text
    assert "31.234567" not in caplog.text and "secret-user-id" not in caplog.text
    db.dispose()


def test_logs_of_a_whole_session_hold_no_precise_coordinates_or_tokens(tmp_path):
    """Debug-level JSON logs of searches, fixes over HTTP and websocket, payments, errors: scanned line by line."""
    settings = Settings(database_url="", sqlite_path=tmp_path / "lbs.sqlite3", redis_url="")
    from lbs_service.storage.migrate import upgrade

    upgrade(settings)
    log_path = tmp_path / "server.log"
    env = {"LBS_DATABASE_URL": "", "LBS_SQLITE_PATH": str(settings.sqlite_path), "LBS_REDIS_URL": "",
           "LBS_LOG_FORMAT": "json", "LBS_SECRET_KEY": settings.secret_key}
    lat, lng = "31.234567", "121.474321"
    user_token = mint_token(settings, Principal("user", "dave"))
    ref = "sim_0123456789abcdef01234567"
    with lbs_servers(env, 1, log_level="debug", log_path=log_path) as (host,):
        with httpx.Client(base_url=f"http://{host}") as client:
            client.post("/v1/stores", json={**STORE, "lat": float(lat), "lng": float(lng)},
                        headers=operator_headers(settings))
            assert client.get(f"/v1/stores/nearby?lat={lat}&lng={lng}").status_code == 200
            assert client.get(f"/v1/stores/nearby?lat=99.123456&lng={lng}").status_code == 422
            client.post("/v1/users/me/locations", json={"fixes": [{"lat": float(lat), "lng": float(lng),
                                                                   "accuracy_m": 10, "ts": _now(-5)}]},
                        headers={"Authorization": f"Bearer {user_token}"})
            assert client.post(f"/v1/payments/simulated/{ref}/pay",
                               headers={"Authorization": f"Bearer {user_token}"}).status_code == 404
        with connect(f"ws://{host}/v1/ws/user?token={user_token}") as ws:
            ws.send(json.dumps({"type": "location", "lat": float(lat) + 1e-4, "lng": float(lng), "accuracy_m": 10,
                                "ts": _now()}))
            ws.send(json.dumps({"type": "location", "lat": 91.123456, "lng": float(lng), "ts": _now()}))
            ws.send(b"\x00binary frame")
            ws.send('{"type":"ping"}')
            deadline = time.monotonic() + 5
            while json.loads(ws.recv(timeout=5))["type"] != "pong" and time.monotonic() < deadline:
                pass
    lines = log_path.read_text().splitlines()
    assert any("/v1/stores/nearby" in line for line in lines)  # the requests were logged, without their queries
    assert any("/v1/payments/simulated/{ref}/pay" in line for line in lines)  # the route, not the path
    for line in lines:
        entry = json.loads(line)  # every line is one JSON object
        if entry["logger"] == "lbs.access":
            assert re.fullmatch(r"[0-9a-f]{16}", entry["request_id"])
        for secret in ("31.234", "121.474", "99.123", "91.123", user_token, ref, '"dave"'):
            assert secret not in line, line
