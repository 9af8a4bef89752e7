"""Nothing a client sends on a websocket ends its handler without a close frame or costs other
people anything: binary frames, calendar-edge and future timestamps, made-up acks, floods of acks."""

import asyncio
import json

from tests.clock import at, iso
from tests.live import drain, fix, live_server, receive, token, ws_connect
from tests.service.test_nearby_api import seed
from tests.service.test_push_sockets import store_ids


def _settings(sqlite_settings, **extra):
    return sqlite_settings.model_copy(update={"fence_dwell_s": 0.0, "fence_max_accuracy_m": 0.0,
                                              "staff_alerts": "all", "arrive_radius_m": 1000.0, **extra})


async def answer(ws):
    """The socket's answer to what was just sent, past the store's own news: the user's honest fix may
    open a visit whose card and gauge reach the console at any moment."""
    while (message := await receive(ws))["type"] in ("arrival", "visit", "demand"):
        pass
    return message


async def test_binary_frames_and_edge_timestamps_get_an_error_and_the_socket_stays(sqlite_settings):
    settings = _settings(sqlite_settings)
    seed(settings, count=10)
    with live_server(settings) as host:
        async with ws_connect(host, f"/v1/ws/user?token={token(settings, 'user', 'edgy')}") as user:
            await user.send(b"\x00\x01binary")
            assert (await receive(user))["type"] == "error"
            for ts in ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", iso(86_400)):  # the last: tomorrow
                await user.send(json.dumps({"type": "location", "lat": 32.05, "lng": 118.78, "accuracy_m": 5,
                                            "ts": ts}))
                assert (await receive(user))["type"] == "error", ts
            await user.send(fix(32.05, 118.78, at(10)))  # an honest fix after them is taken
            await user.send('{"type":"ping"}')
            assert (await receive(user))["type"] == "pong"
        store = next(iter(store_ids(settings).values()))[0]
        async with ws_connect(host, f"/v1/ws/stores/{store}?token={token(settings, 'staff', 's', store)}") as staff:
            await staff.send(b"\xff")
            assert (await answer(staff))["type"] == "error"
            await staff.send('{"type":"reply","visit_id":1,"text":"a\\u0000b"}')
            assert (await answer(staff))["type"] == "error"
            await staff.send('{"type":"ping"}')
            assert (await answer(staff))["type"] == "pong"


async def test_acks_must_name_a_card_and_are_limited(sqlite_settings):
    settings = _settings(sqlite_settings, rate_limit_rules={"ack": (20, 60)})
    seed(settings, count=10)
    store, lat, lng = store_ids(settings)["S0"]
    path = f"/v1/ws/stores/{store}?token={token(settings, 'staff', 's', store)}"
    with live_server(settings) as host:
        async with ws_connect(host, path) as console, ws_connect(host, path) as other:
            async with ws_connect(host, f"/v1/ws/user?token={token(settings, 'user', 'walker')}") as user:
                await user.send(fix(lat + 0.001, lng))
                card = await receive(console)
                assert card["type"] == "arrival" and (await receive(other))["id"] == card["id"]
            for made_up in range(1, 16):  # ids that are no card of this store
                await console.send(json.dumps({"type": "ack", "id": card["id"] + made_up}))
                assert (await receive(console))["type"] == "error"
            assert await drain(other, 0.5) == []  # nothing reached the other console, nothing was stored
            await console.send(json.dumps({"type": "ack", "id": card["id"]}))
            acked = await receive(other)
            assert acked["type"] == "acked" and acked["alert_id"] == card["id"]
            assert (await receive(console))["type"] == "acked"  # every console sees it, the sender too
            await console.send(json.dumps({"type": "ack", "id": card["id"]}))  # twice: refused, not repeated
            assert (await receive(console))["type"] == "error"
            for _ in range(10):
                await console.send(json.dumps({"type": "ack", "id": card["id"]}))
            answers = [await receive(console) for _ in range(10)]
            assert any("retry_after_s" in a for a in answers)  # the flood meets the limit
            assert await drain(other, 0.3) == []


async def test_a_year_9999_fix_cannot_lock_a_user_out(sqlite_settings):
    """It is refused, so it never becomes the user's last fix (which would drop every later one)."""
    settings = _settings(sqlite_settings)
    seed(settings, count=10)
    store, lat, lng = store_ids(settings)["S1"]
    with live_server(settings) as host:
        async with ws_connect(host, f"/v1/ws/stores/{store}?token={token(settings, 'staff', 's', store)}") as staff:
            async with ws_connect(host, f"/v1/ws/user?token={token(settings, 'user', 'late')}") as user:
                await user.send(json.dumps({"type": "location", "lat": lat, "lng": lng, "accuracy_m": 5,
                                            "ts": "9999-01-01T00:00:00Z"}))
                assert (await receive(user))["type"] == "error"
                await user.send(fix(lat + 0.001, lng, at(100)))
                assert (await receive(staff))["type"] == "arrival"
            await asyncio.sleep(0)
