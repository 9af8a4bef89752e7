"""The two websockets end to end on the embedded default: arrivals, refusal, replay, acks, promotions."""

import asyncio
from datetime import timedelta

import pytest
from websockets.exceptions import ConnectionClosed

from lbs_service import metrics
from tests.clock import T0
from tests.live import drain, fix, live_server, receive, token, ws_connect
from tests.service.test_nearby_api import seed


@pytest.fixture
def city(sqlite_settings):
    # API.md's equivalence settings: a card for every visit, arrived on entering the fence.
    settings = sqlite_settings.model_copy(update={"fence_dwell_s": 0.0, "fence_max_accuracy_m": 0.0,
                                                  "staff_alerts": "all", "arrive_radius_m": 1000.0})
    rows = seed(settings, count=40)
    return settings, rows


def console(settings, store_id, extra=""):
    return f"/v1/ws/stores/{store_id}?token={token(settings, 'staff', 's', store_id)}{extra}"


def app_user(settings, name):
    return f"/v1/ws/user?token={token(settings, 'user', name)}"


def store_ids(settings):
    from lbs_service.storage.db import Database
    from lbs_service.storage.models import Store

    with Database(settings).session() as session:
        return {s.source_id: (s.id, s.lat, s.lng) for s in session.query(Store)}


async def test_a_fix_near_a_store_reaches_its_console_without_the_users_position(city):
    settings, _ = city
    stores = store_ids(settings)
    store_id, lat, lng = stores["S0"]
    with live_server(settings) as host:
        async with ws_connect(host, console(settings, store_id)) as staff, ws_connect(host, app_user(
                settings, "alice")) as user:
            await user.send(fix(lat + 0.05, lng))  # ~5.5 km away: outside
            await user.send(fix(lat + 0.001, lng))  # ~110 m away: an arrival
            arrival = await receive(staff)
    assert arrival["type"] == "arrival" and arrival["store_id"] == store_id
    assert isinstance(arrival["id"], int) and 100 < arrival["distance_m"] < 120
    assert {"user_ref", "eta_s", "context"} <= arrival.keys()
    assert arrival["user_ref"].startswith("u-") and "alice" not in str(arrival)
    assert "lat" not in arrival and "lng" not in arrival


async def test_another_stores_token_is_refused_with_4403(city):
    settings, _ = city
    stores = store_ids(settings)
    a, b = stores["S0"][0], stores["S1"][0]
    with live_server(settings) as host:
        async with ws_connect(host, f"/v1/ws/stores/{a}?token={token(settings, 'staff', 's', b)}") as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await receive(ws)
        assert closed.value.rcvd.code == 4403
        async with ws_connect(host, f"/v1/ws/stores/{a}?token=garbage") as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await receive(ws)
        assert closed.value.rcvd.code == 4401
        async with ws_connect(host, f"/v1/ws/user?token={token(settings, 'user', 'u')}",
                              origin="http://evil.example") as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await receive(ws)
        assert closed.value.rcvd.code == 4403


async def test_reconnect_with_last_id_replays_what_was_missed_in_order(city):
    settings, _ = city
    stores = store_ids(settings)
    store_id, lat, lng = stores["S2"]
    path = f"/v1/ws/stores/{store_id}?token={token(settings, 'staff', 's', store_id)}"
    with live_server(settings) as host:
        async with ws_connect(host, path) as staff, ws_connect(host, app_user(settings, "u0")) as user:
            await user.send(fix(lat + 0.001, lng))
            first = await receive(staff)
        for n in range(1, 5):  # four more customers arrive while the console is away
            async with ws_connect(host, f"/v1/ws/user?token={token(settings, 'user', f'u{n}')}") as user:
                await user.send(fix(lat + 0.001 * n, lng))
                await asyncio.sleep(0.3)
        async with ws_connect(host, f"{path}&last_id={first['id']}") as staff:
            missed = await drain(staff, 1.0)
    ids = [m["id"] for m in missed]
    assert len(missed) == 4 and ids == sorted(ids) and ids[0] > first["id"]  # in order, nothing repeated
    assert len({m["user_ref"] for m in missed}) == 4


async def test_a_gap_past_retention_is_a_reset(city):
    settings, _ = city
    settings = settings.model_copy(update={"stream_retention": 10})
    store_id = store_ids(settings)["S3"][0]
    with live_server(settings) as host:
        async with ws_connect(host, f"/v1/ws/stores/{store_id}?token={token(settings, 'staff', 's', store_id)}"
                                    f"&last_id=5") as console:
            assert (await receive(console))["type"] == "reset"


async def test_an_ack_on_one_console_shows_on_the_other(city):
    settings, _ = city
    store_id, lat, lng = store_ids(settings)["S4"]
    path = f"/v1/ws/stores/{store_id}?token={token(settings, 'staff', 's', store_id)}"
    with live_server(settings) as host:
        async with ws_connect(host, path) as one, ws_connect(host, path) as two:
            async with ws_connect(host, f"/v1/ws/user?token={token(settings, 'user', 'bob')}") as user:
                await user.send(fix(lat + 0.002, lng))
                alert = await receive(one)
                assert (await receive(two))["id"] == alert["id"]
            await one.send(f'{{"type": "ack", "id": {alert["id"]}}}')
            acked = await receive(two)
            assert acked["type"] == "acked" and acked["alert_id"] == alert["id"] and acked["by"] == "s"
            assert acked["id"] > alert["id"]


async def test_bad_fixes_get_an_error_and_the_socket_stays(city):
    settings, _ = city
    with live_server(settings) as host:
        async with ws_connect(host, f"/v1/ws/user?token={token(settings, 'user', 'carol')}") as user:
            for bad in ['{"type":"location","lat":"x","lng":1,"ts":"2026-01-01T00:00:00Z"}',
                        '{"type":"location","lat":91,"lng":1,"ts":"2026-01-01T00:00:00Z"}',
                        '{"type":"location","lat":1,"lng":1,"ts":"2026-01-01T00:00:00"}',
                        '{"type":"location","lat":1,"lng":1,"ts":"2026-01-01T00:00:00Z","x":1}', "not json"]:
                await user.send(bad)
                assert (await receive(user))["type"] == "error"
            accepted = metrics.value("lbs_fixes_total", outcome="accepted")
            await user.send(fix(30.0, 120.0))
            await user.send('{"type":"ping"}')  # answered once the fix before it is processed
            assert (await receive(user))["type"] == "pong"
    # Only the good fix counts as accepted; the refused ones never reached tracking.
    assert metrics.value("lbs_fixes_total", outcome="accepted") == accepted + 1


async def test_promotions_follow_consent(city):
    settings, _ = city
    store_id, lat, lng = store_ids(settings)["S5"]
    op = {"Authorization": f"Bearer {token(settings, 'operator', 'op')}"}
    user_auth = {"Authorization": f"Bearer {token(settings, 'user', 'dana')}"}
    import httpx

    now = T0
    with live_server(settings) as host:
        async with httpx.AsyncClient(base_url=f"http://{host}") as http:
            created = await http.post("/v1/campaigns", headers=op, json={
                "title": "Free coffee", "level": "store", "store_ids": [store_id],
                "starts_at": (now - timedelta(hours=1)).isoformat(), "ends_at": (now + timedelta(days=1)).isoformat()})
            assert created.status_code == 201, created.text
            async with ws_connect(host, f"/v1/ws/user?token={token(settings, 'user', 'dana')}") as user:
                await user.send(fix(lat + 0.001, lng))  # no consent yet: nothing for the user
                assert await drain(user, 0.8) == []
                await user.send(fix(lat + 0.05, lng))  # leave
                consent = await http.put("/v1/users/me/consent", headers=user_auth, json={"location_marketing": True})
                assert consent.json()["location_marketing"] is True
                await user.send(fix(lat + 0.001, lng))  # come back: now an offer
                promo = await receive(user)
                assert promo["type"] == "promotion" and promo["campaign_id"] == created.json()["id"]
                assert promo["store_id"] == store_id and isinstance(promo["id"], int)
                assert (await http.put("/v1/users/me/consent", headers=user_auth,
                                       json={"location_marketing": False})).status_code == 200
                await user.send(fix(lat + 0.05, lng))
                await user.send(fix(lat + 0.001, lng))
                assert await drain(user, 0.8) == []
            listed = await http.get("/v1/campaigns", params={"store_id": store_id})
            assert [c["id"] for c in listed.json()] == [created.json()["id"]]


async def test_batch_endpoint_has_the_same_effect(city):
    settings, _ = city
    store_id, lat, lng = store_ids(settings)["S6"]
    import httpx

    auth = {"Authorization": f"Bearer {token(settings, 'user', 'erin')}"}
    now = T0
    with live_server(settings) as host:
        async with ws_connect(host, console(settings, store_id)) as staff, httpx.AsyncClient(
                base_url=f"http://{host}") as http:
            body = {"fixes": [
                {"lat": lat + 0.05, "lng": lng, "accuracy_m": 5, "ts": now.isoformat()},
                {"lat": lat + 0.001, "lng": lng, "accuracy_m": 5, "ts": (now + timedelta(seconds=60)).isoformat()},
                {"lat": lat, "lng": lng, "accuracy_m": 5, "ts": (now - timedelta(seconds=60)).isoformat()},
            ]}
            answer = await http.post("/v1/users/me/locations", headers=auth, json=body)
            assert answer.status_code == 200, answer.text
            assert answer.json()["dropped"] == {"out_of_order": 1} and store_id in answer.json()["arrivals"]
            assert (await receive(staff))["type"] == "arrival"
            bad = await http.post("/v1/users/me/locations", headers=auth, json={"fixes": [{"lat": 1}]})
            assert bad.status_code == 422
