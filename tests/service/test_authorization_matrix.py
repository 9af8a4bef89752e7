"""Every OpenAPI route and both websockets, called by the other party: another user, staff of
another store, another merchant, nobody. Each answer is a refusal (401/403/404, or close 4403) or,
where the route is public or acts on the caller's own data, an answer that holds none of the
victim's data. The case table must name every route the app serves, so a new route cannot slip by.
"""

import json
import time
from datetime import UTC, datetime

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from lbs_service.storage.db import Database
from lbs_service.storage.stores import StoreRepository
from tests.clock import T0
from tests.conftest import client_for
from tests.faults.report import FaultRun, record
from tests.live import live_server, token
from tests.push_service import Browser, b64url

VICTIM = "victim-alice"
DENY = {401, 403, 404}
WINDOW = {"starts_at": "2020-01-01T00:00:00Z", "ends_at": "2099-01-01T00:00:00Z"}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def bearer(settings, role, subject, store_id=None, merchant_id=None):
    return {"Authorization": f"Bearer {token(settings, role, subject, store_id, merchant_id)}"}


def _store(source_id, lat, lng):
    return {"source_id": source_id, "name": f"Outlet {source_id}", "category": "cafe", "hours": None,
            "timezone": "Asia/Shanghai", "status": "open", "attributes": {}, "lat": lat, "lng": lng, "address": None,
            "phone": None}


@pytest.fixture
def world(sqlite_settings):
    """Merchant Alpha's store A with a campaign, a SKU and stock; Alpha's customer Alice with a coupon,
    an order and an arrival. Merchant Beta's store B is where the other parties come from."""
    settings = sqlite_settings
    repository = StoreRepository(Database(settings))
    repository.upsert_many("Alpha", [_store("A", 32.05, 118.78)])
    repository.upsert_many("Beta", [_store("B", 32.06, 118.79)])
    with client_for(settings) as client:
        deadline = time.monotonic() + 3
        while client.get("/v1/stores/nearby", params={"lat": 32.05, "lng": 118.78, "radius_m": 5000}).json()[
                "numberMatched"] < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        found = client.get("/v1/stores/nearby", params={"lat": 32.05, "lng": 118.78, "radius_m": 5000}).json()
        by_source = {f["properties"]["source_id"]: f for f in found["features"]}
        store_a, store_b = int(by_source["A"]["id"]), int(by_source["B"]["id"])
        alpha, beta = by_source["A"]["properties"]["merchant_id"], by_source["B"]["properties"]["merchant_id"]
        staff_a = bearer(settings, "staff", "staff-a", store_a)
        alice = bearer(settings, "user", VICTIM)
        campaign = client.post("/v1/campaigns", headers=staff_a, json={
            "title": "Alpha morning", "level": "store", "store_ids": [store_a], **WINDOW}).json()
        sku = client.post("/v1/skus", headers=bearer(settings, "operator", "op"), json={
            "merchant_id": alpha, "code": "CUP", "name": "Cup", "price_cents": 900}).json()
        assert client.put(f"/v1/stores/{store_a}/stock/{sku['id']}", headers=staff_a,
                          json={"quantity": 10}).status_code == 200
        coupon = client.post(f"/v1/campaigns/{campaign['id']}/claim", headers=alice).json()
        order = client.post("/v1/orders", headers=alice, json={
            "store_id": store_a, "lines": [{"sku_id": sku["id"], "quantity": 1}]}).json()
        now = T0.timestamp()
        fixes = [{"lat": 32.08, "lng": 118.78, "accuracy_m": 10, "ts": _iso(now - 60)},
                 {"lat": 32.0501, "lng": 118.7801, "accuracy_m": 10, "ts": _iso(now)}]
        assert client.post("/v1/users/me/locations", headers=alice, json={"fixes": fixes}).json()["arrivals"]
        push = client.post("/v1/users/me/push-subscriptions", headers=alice, json=_subscription(ALICE_ENDPOINT))
        assert push.status_code == 201, push.text
        boss = bearer(settings, "merchant", "alpha-boss", merchant_id=alpha)
        prize = client.post("/v1/campaigns", headers=staff_a, json={
            "title": "Alpha prize", "level": "store", "store_ids": [store_a], **WINDOW}).json()
        game = client.post("/v1/games", headers=boss, json={
            "title": "Alpha wheel", "kind": "wheel", **WINDOW, "merchant_id": alpha, "store_ids": [store_a],
            "plays_per_user_per_day": 3, "prizes": [{"campaign_id": prize["id"], "odds_bp": 5000, "stock": 10}]})
        assert game.status_code == 201, game.text
        for_points = client.post("/v1/campaigns", headers=staff_a, json={
            "title": "Alpha for points", "level": "store", "store_ids": [store_a], "points_price": 1, **WINDOW})
        assert for_points.status_code == 201, for_points.text
        yield {"client": client, "settings": settings, "store_a": store_a, "store_b": store_b, "alpha": alpha,
               "beta": beta, "campaign": campaign["id"], "sku": sku["id"], "coupon": coupon, "order": order,
               "push": push.json()["id"], "game": game.json()["id"], "for_points": for_points.json()["id"]}


ALICE_ENDPOINT = "https://fcm.googleapis.com/fcm/send/alice-secret-endpoint"


def _subscription(endpoint):
    browser = Browser("b")
    return {"endpoint": endpoint, "expirationTime": None,
            "keys": {"p256dh": browser.p256dh, "auth": b64url(browser.auth)}}


def _cases(w):
    """(method, route template, concrete path, body, who may get a 2xx): 'public', 'self' (the caller's own
    data), 'user' (any user may do it, e.g. claim a public offer) or None (nobody but the victim's side)."""
    a, coupon, order = w["store_a"], w["coupon"], w["order"]
    ref = order["payment"]["ref"]
    return [
        ("GET", "/healthz", "/healthz", None, "public"),
        ("GET", "/readyz", "/readyz", None, "public"),
        ("GET", "/metrics", "/metrics", None, "public"),
        ("GET", "/v1/stores/nearby", "/v1/stores/nearby?lat=32.05&lng=118.78", None, "public"),
        ("GET", "/v1/stores/{store_id}", f"/v1/stores/{a}", None, "public"),
        ("PATCH", "/v1/stores/{store_id}", f"/v1/stores/{a}", {"name": "pwned"}, None),
        ("DELETE", "/v1/stores/{store_id}", f"/v1/stores/{a}", None, None),
        ("POST", "/v1/stores", "/v1/stores", {"source_id": "X", "name": "x", "lat": 32.0, "lng": 118.0}, None),
        ("GET", "/v1/users/me/consent", "/v1/users/me/consent", None, "self"),
        ("PUT", "/v1/users/me/consent", "/v1/users/me/consent", {"location_marketing": False}, "self"),
        ("PUT", "/v1/users/me/preferences", "/v1/users/me/preferences", {"timezone": "Asia/Shanghai"}, "self"),
        ("POST", "/v1/users/me/locations", "/v1/users/me/locations",
         {"fixes": [{"lat": 32.0, "lng": 118.0, "accuracy_m": 10, "ts": _iso(T0.timestamp() + 120)}]}, "self"),
        ("GET", "/v1/users/me/profile", "/v1/users/me/profile", None, "self"),
        ("GET", "/v1/users/me/location-data", "/v1/users/me/location-data", None, "self"),
        ("DELETE", "/v1/users/me/location-data", "/v1/users/me/location-data", None, "self"),
        ("GET", "/v1/campaigns", f"/v1/campaigns?store_id={a}", None, "public"),
        ("POST", "/v1/campaigns", "/v1/campaigns", {"title": "hijack", "level": "store", "store_ids": [a], **WINDOW},
         None),
        ("POST", "/v1/campaigns/{campaign_id}/claim", f"/v1/campaigns/{w['campaign']}/claim", None, "user"),
        ("GET", "/v1/users/me/coupons", "/v1/users/me/coupons", None, "self"),
        ("GET", "/v1/coupons/{coupon_id}/qr", f"/v1/coupons/{coupon['id']}/qr", None, None),
        ("GET", "/v1/coupons/{coupon_id}/qr.{kind}", f"/v1/coupons/{coupon['id']}/qr.svg", None, None),
        ("POST", "/v1/stores/{store_id}/redemptions", f"/v1/stores/{a}/redemptions", {"code": coupon["code"]}, None),
        ("POST", "/v1/stores/{store_id}/reviews", f"/v1/stores/{a}/reviews", {"rating": 1}, None),
        ("POST", "/v1/skus", "/v1/skus", {"merchant_id": w["alpha"], "code": "X", "name": "x", "price_cents": 1}, None),
        ("PUT", "/v1/stores/{store_id}/stock/{sku_id}", f"/v1/stores/{a}/stock/{w['sku']}", {"quantity": 0}, None),
        ("GET", "/v1/stores/{store_id}/stock", f"/v1/stores/{a}/stock", None, "public"),
        ("GET", "/v1/stores/{store_id}/orders", f"/v1/stores/{a}/orders?status=pending", None, None),
        ("POST", "/v1/orders", "/v1/orders", {"store_id": a, "lines": [{"sku_id": w["sku"], "quantity": 1}]}, "user"),
        ("GET", "/v1/orders/{order_id}", f"/v1/orders/{order['id']}", None, None),
        ("POST", "/v1/payments/callback", "/v1/payments/callback", {"ref": ref, "status": "paid"}, None),
        ("POST", "/v1/payments/simulated/{ref}/pay", f"/v1/payments/simulated/{ref}/pay", None, None),
        ("POST", "/v1/orders/{order_id}/ready", f"/v1/orders/{order['id']}/ready", None, None),
        ("POST", "/v1/stores/{store_id}/pickups", f"/v1/stores/{a}/pickups", {"code": order["pickup_code"]}, None),
        ("POST", "/v1/orders/{order_id}/cancel", f"/v1/orders/{order['id']}/cancel", None, None),
        ("POST", "/v1/orders/{order_id}/return", f"/v1/orders/{order['id']}/return", None, None),
        ("GET", "/v1/orders/{order_id}/qr", f"/v1/orders/{order['id']}/qr", None, None),
        ("GET", "/v1/orders/{order_id}/qr.{kind}", f"/v1/orders/{order['id']}/qr.svg", None, None),
        ("GET", "/v1/reports/rebates", "/v1/reports/rebates?month=2026-11", None, "merchant"),
        ("GET", "/v1/coverage", "/v1/coverage?bbox=118.7,32.0,118.8,32.1&res=8", None, "merchant"),
        ("GET", "/v1/coverage/gaps", "/v1/coverage/gaps?bbox=118.7,32.0,118.8,32.1&res=8", None, "merchant"),
        ("POST", "/v1/tokens/revocations", "/v1/tokens/revocations", {"subject": "staff-a"}, None),
        ("GET", "/v1/districts", "/v1/districts", None, "public"),
        ("GET", "/v1/districts.geojson", "/v1/districts.geojson", None, "public"),
        ("GET", "/v1/skus", "/v1/skus?q=cup", None, "public"),
        ("GET", "/v1/merchants", "/v1/merchants", None, "public"),
        ("GET", "/v1/categories", "/v1/categories", None, "public"),
        ("GET", "/v1/reports/stores/performance", "/v1/reports/stores/performance?bbox=118.7,32.0,118.8,32.1", None,
         "merchant"),
        ("GET", "/v1/push/vapid-public-key", "/v1/push/vapid-public-key", None, "public"),
        ("POST", "/v1/users/me/push-subscriptions", "/v1/users/me/push-subscriptions",
         _subscription("https://fcm.googleapis.com/fcm/send/someone-else"), "self"),
        ("GET", "/v1/users/me/push-subscriptions", "/v1/users/me/push-subscriptions", None, "self"),
        ("DELETE", "/v1/users/me/push-subscriptions/{subscription_id}",
         f"/v1/users/me/push-subscriptions/{w['push']}", None, None),
        ("POST", "/v1/games", "/v1/games", {
            "title": "hijack", "kind": "scratch", **WINDOW, "merchant_id": w["alpha"], "plays_per_user_per_day": 1,
            "prizes": [{"campaign_id": w["campaign"], "odds_bp": 10000, "stock": 1000}]}, None),
        ("GET", "/v1/games", f"/v1/games?store_id={a}", None, "public"),
        ("POST", "/v1/games/{game_id}/plays", f"/v1/games/{w['game']}/plays", None, "user"),
        ("GET", "/v1/games/{game_id}/plays", f"/v1/games/{w['game']}/plays", None, None),
        ("GET", "/v1/users/me/points", "/v1/users/me/points", None, "self"),
        ("POST", "/v1/points/exchanges", "/v1/points/exchanges", {"campaign_id": w["for_points"]}, "user"),
        ("POST", "/v1/stores/{store_id}/bill-payments", f"/v1/stores/{a}/bill-payments",
         {"utility": "water", "account_ref": "ACC-1", "amount_cents": 100}, None),
        ("GET", "/v1/reports/campaigns/{campaign_id}/funnel", f"/v1/reports/campaigns/{w['campaign']}/funnel", None,
         None),
        ("GET", "/v1/stores/{store_id}/stock/suggestions", f"/v1/stores/{a}/stock/suggestions", None, None),
        ("GET", "/v1/campaigns/{campaign_id}/audience", f"/v1/campaigns/{w['campaign']}/audience", None, None),
    ]


def _attackers(w):
    s = w["settings"]
    return {
        "another user": ("user", bearer(s, "user", "mallory")),
        "staff of another store": ("staff", bearer(s, "staff", "staff-b", w["store_b"])),
        "another merchant": ("merchant", bearer(s, "merchant", "beta-boss", merchant_id=w["beta"])),
        "nobody": (None, {}),
    }


def _secrets(w):
    """What only Alice, store A and merchant Alpha may see."""
    return [VICTIM, w["coupon"]["code"], w["order"]["pickup_code"], "alice-secret-endpoint"]


def test_every_route_refuses_or_hides_the_other_partys_data(world):
    client, w = world["client"], world
    served = {(method.upper(), path) for path, operations in client.app.openapi()["paths"].items()
              for method in operations}
    cases = _cases(w)
    assert {(m, template) for m, template, *_ in cases} == served  # every route is in the table
    failures = []
    tried = server_errors = leaks = 0
    for who, (role, headers) in _attackers(w).items():
        for method, template, path, body, allowed in cases:
            response = client.request(method, path, json=body, headers={**headers, "X-Signature": "0" * 64})
            tried += 1
            server_errors += response.status_code >= 500
            may_succeed = (allowed == "public" or (allowed in ("self", "user") and role == "user")
                           or (allowed == "merchant" and role == "merchant"))
            if response.status_code >= 500:
                failures.append(f"{who}: {method} {template} -> {response.status_code}")
            elif not may_succeed and response.status_code not in DENY:
                failures.append(f"{who}: {method} {template} -> {response.status_code} {response.text[:120]}")
            leaked = [s for s in _secrets(w) if s in response.text]
            if leaked:
                leaks += 1
                failures.append(f"{who}: {method} {template} leaked {leaked}")
    record(FaultRun("every route as another party", tried, server_errors, leaks=leaks))
    assert not failures, "\n".join(failures)

    # And nothing the attempts tried took effect: Alice's coupon, order and arrival are as they were.
    alice = bearer(w["settings"], "user", VICTIM)
    coupons = client.get("/v1/users/me/coupons", headers=alice).json()
    assert [c["status"] for c in coupons if c["id"] == w["coupon"]["id"]] == ["claimed"]  # not redeemed
    assert client.get(f"/v1/orders/{w['order']['id']}", headers=alice).json()["status"] == "pending"
    assert client.get("/v1/users/me/location-data", headers=alice).json()["arrivals"]
    assert client.get(f"/v1/stores/{w['store_a']}").json()["properties"]["name"] == "Outlet A"
    assert [p["id"] for p in client.get("/v1/users/me/push-subscriptions", headers=alice).json()[
        "subscriptions"]] == [w["push"]]


def test_rebates_of_another_merchant_show_only_their_own_outlets(world):
    client, w = world["client"], world
    beta = _attackers(w)["another merchant"][1]
    rows = client.get("/v1/reports/rebates?month=2026-11", headers=beta).json()
    assert all(row["store_id"] != w["store_a"] for row in rows)


def test_websockets_refuse_other_parties_with_4403(world):
    w = world
    s = w["settings"]
    cases = [
        (f"/v1/ws/stores/{w['store_a']}", token(s, "staff", "staff-b", w["store_b"])),
        (f"/v1/ws/stores/{w['store_a']}", token(s, "user", "mallory")),
        (f"/v1/ws/stores/{w['store_a']}", token(s, "merchant", "beta-boss", None, w["beta"])),
        ("/v1/ws/user", token(s, "staff", "staff-a", w["store_a"])),
    ]
    with live_server(s) as base:
        for path, credential in cases:
            with connect(f"ws://{base}{path}?token={credential}") as ws:
                with pytest.raises(ConnectionClosed) as closed:
                    while True:
                        assert "arrival" not in json.loads(ws.recv(timeout=5)).get("type", "")
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403, path
