"""What an attacker tried over HTTP: linking pseudonyms across stores, a merchant token without a
merchant, an existence oracle in order cancellation, metrics without a token, headers that trickle."""

import asyncio
import json
import select
import socket
import time

import httpx
import jwt

from lbs_service.auth import Principal, mint_token
from tests.clock import WIDE
from tests.conftest import client_for, operator_headers
from tests.live import fix, live_server, receive, token, ws_connect

ALWAYS = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def _leaves(value, path=""):
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _leaves(child, f"{path}.{key}")
    elif isinstance(value, list):
        for child in value:
            yield from _leaves(child, f"{path}[]")
    else:
        yield path, value


async def test_two_stores_cards_for_one_person_share_nothing_that_links_them(sqlite_settings):
    """The same user, a coupon valid at both, an order at each, arriving at two stores of two merchants:
    no value in one store's card identifies the person in the other's (ids, pseudonyms, coupons)."""
    settings = sqlite_settings.model_copy(update={"fence_dwell_s": 0.0, "fence_max_accuracy_m": 0.0})
    with client_for(settings) as client:
        op = operator_headers(settings)
        a = client.post("/v1/stores", headers=op, json={"source_id": "A", "name": "A", "merchant": "Alpha",
                                                        "lat": 32.0, "lng": 118.0, "hours": ALWAYS}).json()
        b = client.post("/v1/stores", headers=op, json={"source_id": "B", "name": "B", "merchant": "Beta",
                                                        "lat": 32.0, "lng": 118.03, "hours": ALWAYS}).json()
        campaign = client.post("/v1/campaigns", headers=op, json={"title": "Everywhere", "level": "platform",
                                                                  **WIDE}).json()
        user = {"Authorization": f"Bearer {token(settings, 'user', 'zoe')}"}
        client.post(f"/v1/campaigns/{campaign['id']}/claim", headers=user)
    cards = {}
    with live_server(settings) as host:
        for store in (a, b):
            sid = int(store["id"])
            lat, lng = store["geometry"]["coordinates"][1], store["geometry"]["coordinates"][0]
            console = f"/v1/ws/stores/{sid}?token={token(settings, 'staff', 's', sid)}"
            async with ws_connect(host, console) as staff, ws_connect(
                    host, f"/v1/ws/user?token={token(settings, 'user', 'zoe')}") as app:
                await app.send(fix(lat + 0.004, lng))
                await app.send(fix(lat + 0.0001, lng))
                cards[sid] = await receive(staff)
                await app.send(fix(lat + 0.05, lng))  # away again
                await asyncio.sleep(0.2)
    card_a, card_b = cards[int(a["id"])], cards[int(b["id"])]
    assert card_a["type"] == card_b["type"] == "arrival"
    identifying = ("user_ref", "visit_id", "id", "coupon_id", "order_id")
    values_a = {v for p, v in _leaves(card_a) if p.rsplit(".", 1)[-1] in identifying}
    values_b = {v for p, v in _leaves(card_b) if p.rsplit(".", 1)[-1] in identifying}
    assert card_a["user_ref"] != card_b["user_ref"] and not values_a & values_b
    assert "zoe" not in json.dumps(cards) and "coupon_id" not in json.dumps(cards)
    assert card_a["context"]["coupons"] == [{"campaign_id": campaign["id"], "title": "Everywhere"}]


def test_a_merchant_token_without_a_merchant_sees_nothing(sqlite_settings):
    genuine = jwt.decode(mint_token(sqlite_settings, Principal("user", "x")), options={"verify_signature": False})
    forged = jwt.encode({**genuine, "role": "merchant", "sub": "m"}, sqlite_settings.secret_key, algorithm="HS256")
    with client_for(sqlite_settings) as client:
        answer = client.get("/v1/reports/rebates", params={"month": "2026-11"},
                            headers={"Authorization": f"Bearer {forged}"})
    assert answer.status_code == 401  # refused like a staff token without a store


def test_someone_elses_order_is_a_404_like_a_missing_one(sqlite_settings):
    from tests.service.test_orders import auth, order, shop

    with client_for(sqlite_settings) as client:
        (a, *_), sku = shop(sqlite_settings, client)
        mine = order(client, auth(sqlite_settings, "user", "owner"), a, sku, 1).json()
        thief = auth(sqlite_settings, "user", "thief")
        theirs = client.post(f"/v1/orders/{mine['id']}/cancel", headers=thief)
        missing = client.post("/v1/orders/999999/cancel", headers=thief)
        assert theirs.status_code == missing.status_code == 404
        assert client.get(f"/v1/orders/{mine['id']}", headers=auth(sqlite_settings, "user", "owner")).json()[
            "status"] == "pending"  # and nothing happened to it


def test_metrics_are_for_operators(sqlite_settings):
    with client_for(sqlite_settings) as client:
        assert client.get("/metrics").status_code == 401
        user = {"Authorization": f"Bearer {token(sqlite_settings, 'user', 'u')}"}
        assert client.get("/metrics", headers=user).status_code == 403
        scraped = client.get("/metrics", headers=operator_headers(sqlite_settings))
        assert scraped.status_code == 200 and "lbs_http_requests_total" in scraped.text
        assert "lbs_fix_to_alert_seconds_bucket" in scraped.text  # histograms, not just counters


def test_headers_that_trickle_are_cut_off(sqlite_settings, monkeypatch):
    from lbs_service import http_protocol

    monkeypatch.setattr(http_protocol.HeaderDeadlineProtocol, "header_timeout_s", 1.0)
    with live_server(sqlite_settings) as host:
        address, port = host.split(":")
        slow = socket.create_connection((address, int(port)))
        started = time.monotonic()
        slow.sendall(b"GET /healthz HTTP/1.1\r\n")
        closed = False
        while not closed and time.monotonic() - started < 8:
            try:
                slow.sendall(b"X-Drip: 1\r\n")  # a header line every half second, never the blank line
            except OSError:
                closed = True
                break
            readable, _, _ = select.select([slow], [], [], 0.5)
            if readable:
                try:
                    closed = slow.recv(1024) == b""
                except OSError:
                    closed = True
        waited = time.monotonic() - started
        slow.close()
        assert closed and waited < 5  # cut off after the deadline, not after minutes
        assert httpx.get(f"http://{host}/healthz").status_code == 200  # honest clients are unaffected
