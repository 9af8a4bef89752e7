"""Orders for pickup: stock taken atomically, paid once however often the provider calls back,
picked up once, refunds put stock back; and 'where is the nearest store that has it'."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from lbs_service.storage.db import Database
from lbs_service.storage.models import Stock
from tests.clock import T0
from tests.conftest import client_for
from tests.live import token
from tests.service.test_nearby_api import seed


def auth(settings, role, subject, store_id=None):
    return {"Authorization": f"Bearer {token(settings, role, subject, store_id)}"}


def shop(settings, client, stock=(5, 0, 2)):
    """Three stores of one merchant, one SKU, with the given stock at each (nearest first from 32.05, 118.78)."""
    seed(settings, count=3)
    deadline = time.monotonic() + 5  # the running worker learns of the new stores through the change feed
    while True:
        features = client.get("/v1/stores/nearby", params={"lat": 32.05, "lng": 118.78, "radius_m": 50000}).json()
        if features["numberMatched"] == 3 or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    ids = [int(f["id"]) for f in features["features"]]
    merchant = features["features"][0]["properties"]["merchant_id"]
    sku = client.post("/v1/skus", headers=auth(settings, "operator", "op"),
                      json={"merchant_id": merchant, "code": "CABLE-C", "name": "USB-C cable", "price_cents": 1999})
    assert sku.status_code == 201, sku.text
    for store_id, quantity in zip(ids, stock, strict=True):
        put = client.put(f"/v1/stores/{store_id}/stock/{sku.json()['id']}", json={"quantity": quantity},
                         headers=auth(settings, "staff", "s", store_id))
        assert put.status_code == 200, put.text
    return ids, sku.json()["id"]


def order(client, headers, store_id, sku_id, count):
    return client.post("/v1/orders", headers=headers, json={"store_id": store_id,
                                                            "lines": [{"sku_id": sku_id, "quantity": count}]})


def quantity(settings, store_id, sku_id):
    with Database(settings).session() as session:
        return session.get(Stock, {"store_id": store_id, "sku_id": sku_id}).quantity


def test_order_lifecycle(sqlite_settings):
    with client_for(sqlite_settings) as client:
        (a, *_), sku = shop(sqlite_settings, client)
        user = auth(sqlite_settings, "user", "olga")
        staff = auth(sqlite_settings, "staff", "s", a)
        placed = order(client, user, a, sku, 2)
        assert placed.status_code == 201 and placed.json()["status"] == "pending"
        assert placed.json()["total_cents"] == 3998 and quantity(sqlite_settings, a, sku) == 3
        placed_order = placed.json()
        ref = placed_order["payment"]["ref"]
        assert client.post(f"/v1/orders/{placed_order['id']}/ready", headers=staff).status_code == 409  # not paid
        assert client.post(f"/v1/payments/simulated/{ref}/pay", headers=user).json()["status"] == "paid"
        repeat = client.post(f"/v1/payments/simulated/{ref}/pay", headers=user).json()
        assert repeat == {"order_id": placed_order["id"], "status": "paid", "repeat": True}
        forged = client.post("/v1/payments/callback", json={"ref": ref, "status": "paid"},
                             headers={"X-Signature": "0" * 64})
        assert forged.status_code == 401
        queue = client.get(f"/v1/stores/{a}/orders", headers=staff).json()  # the console's pickup queue
        assert [(o["id"], o["status"]) for o in queue] == [(placed_order["id"], "paid")]
        assert queue[0]["items"] == [{"sku_id": sku, "name": "USB-C cable", "quantity": 2}]
        assert "olga" not in str(queue) and placed_order["pickup_code"] not in str(queue)  # staff see neither
        assert client.get(f"/v1/stores/{a}/orders", headers=user).status_code == 403
        seen_by_staff = client.get(f"/v1/orders/{placed_order['id']}", headers=staff).json()
        assert seen_by_staff["status"] == "paid" and "pickup_code" not in seen_by_staff  # only the customer holds it
        ready = client.post(f"/v1/orders/{placed_order['id']}/ready", headers=staff).json()
        assert ready["status"] == "ready" and "pickup_code" not in ready
        code = {"code": placed_order["pickup_code"]}
        assert client.post(f"/v1/stores/{a}/pickups", headers=staff, json=code).json()["status"] == "picked_up"
        assert client.get(f"/v1/stores/{a}/orders", headers=staff).json() == []  # handed over: off the queue
        again = client.post(f"/v1/stores/{a}/pickups", headers=staff, json=code)
        assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"
        assert client.post(f"/v1/orders/{placed_order['id']}/cancel", headers=user).status_code == 409  # too late
        assert quantity(sqlite_settings, a, sku) == 3


def test_refund_and_cancel_put_stock_back(sqlite_settings):
    with client_for(sqlite_settings) as client:
        (a, *_), sku = shop(sqlite_settings, client)
        user = auth(sqlite_settings, "user", "pia")
        paid = order(client, user, a, sku, 3)
        client.post(f"/v1/payments/simulated/{paid.json()['payment']['ref']}/pay", headers=user)
        pending = order(client, user, a, sku, 2)
        assert quantity(sqlite_settings, a, sku) == 0
        assert client.post(f"/v1/orders/{paid.json()['id']}/cancel", headers=user).json()["status"] == "refunded"
        assert client.post(f"/v1/orders/{pending.json()['id']}/cancel", headers=user).json()["status"] == "cancelled"
        assert quantity(sqlite_settings, a, sku) == 5
        ref = pending.json()["payment"]["ref"]
        late = client.post(f"/v1/payments/simulated/{ref}/pay", headers=user)
        assert late.status_code == 200 and late.json()["status"] == "refunded"  # the money came back at once
        assert client.get(f"/v1/orders/{pending.json()['id']}", headers=user).json()["status"] == "refunded"
        assert (ref, 3998) in client.app.state.services.payments.refunds  # the provider was told


def test_not_enough_stock_takes_nothing(sqlite_settings):
    with client_for(sqlite_settings) as client:
        (a, _, c), sku = shop(sqlite_settings, client)
        user = auth(sqlite_settings, "user", "quin")
        too_many = client.post("/v1/orders", headers=user, json={"store_id": c, "lines": [
            {"sku_id": sku, "quantity": 2}, {"sku_id": sku, "quantity": 1}]})  # 3 of 2, in two lines
        assert too_many.status_code == 409 and quantity(sqlite_settings, c, sku) == 2
        for body in ({"store_id": a, "lines": []}, {"store_id": a, "lines": [{"sku_id": sku, "quantity": 0}]},
                     {"store_id": a, "lines": [{"sku_id": 999, "quantity": 1}]}, {"store_id": a}):
            assert client.post("/v1/orders", headers=user, json=body).status_code == 422
        assert client.post("/v1/orders", headers=auth(sqlite_settings, "staff", "s", a),
                           json={"store_id": a, "lines": [{"sku_id": sku, "quantity": 1}]}).status_code == 403


def test_nearest_store_that_has_it(sqlite_settings):
    with client_for(sqlite_settings) as client:
        (a, _, c), sku = shop(sqlite_settings, client)
        params = {"lat": 32.05, "lng": 118.78, "radius_m": 50000, "sku": sku}
        body = client.get("/v1/stores/nearby", params=params).json()
        assert [int(f["id"]) for f in body["features"]] == [a, c]  # b has none
        assert [f["properties"]["quantity"] for f in body["features"]] == [5, 2]
        assert body["numberMatched"] == 2
        assert client.get("/v1/stores/nearby", params={**params, "sku": 424242}).json()["numberMatched"] == 0


@pytest.mark.postgis
def test_the_last_units_go_to_exactly_as_many_buyers_on_postgis(pg_settings):
    with client_for(pg_settings) as client:
        (a, *_), sku = shop(pg_settings, client)

        def buy(n):
            return client.post("/v1/orders", headers=auth(pg_settings, "user", f"buyer-{n}"),
                               json={"store_id": a, "lines": [{"sku_id": sku, "quantity": 1}]}).status_code

        with ThreadPoolExecutor(max_workers=12) as pool:
            codes = list(pool.map(buy, range(30)))
    assert codes.count(201) == 5 and codes.count(409) == 25
    assert quantity(pg_settings, a, sku) == 0


async def test_console_hears_of_a_paid_order_once_and_sees_it_on_arrival(sqlite_settings):
    import httpx

    from lbs_service.storage.models import Store
    from tests.live import drain, fix, live_server, receive, ws_connect

    settings = sqlite_settings.model_copy(update={"fence_dwell_s": 0.0})
    with client_for(settings) as client:
        (a, *_), sku = shop(settings, client)
    with Database(settings).session() as session:
        store = session.get(Store, a)
        lat, lng = store.lat, store.lng
    with live_server(settings) as host:
        console_path = f"/v1/ws/stores/{a}?token={token(settings, 'staff', 's', a)}"
        async with ws_connect(host, console_path) as console, httpx.AsyncClient(base_url=f"http://{host}") as http:
            user = auth(settings, "user", "rosa")
            placed = (await http.post("/v1/orders", headers=user, json={
                "store_id": a, "lines": [{"sku_id": sku, "quantity": 1}]})).json()
            for _ in range(3):  # the provider retries its callback
                await http.post(f"/v1/payments/simulated/{placed['payment']['ref']}/pay", headers=user)
            paid = await receive(console)
            assert paid["type"] == "order" and paid["order_id"] == placed["id"] and paid["status"] == "paid"
            assert "rosa" not in str(paid) and await drain(console, 0.8) == []
            async with ws_connect(host, f"/v1/ws/user?token={token(settings, 'user', 'rosa')}") as app:
                await app.send(fix(lat + 0.004, lng))
                await app.send(fix(lat + 0.0002, lng))  # arrived, with an order waiting here: a card
                arrival = await receive(console)
            assert arrival["type"] == "arrival" and arrival["stage"] == "arrived"
            assert arrival["context"]["orders"] == [{"order_id": placed["id"], "status": "paid",
                                                     "items": [{"name": "USB-C cable", "quantity": 1}]}]
            assert arrival["user_ref"] == paid["user_ref"]


def test_unpaid_orders_expire_and_give_their_stock_back(sqlite_settings):
    from lbs_service.o2o.orders import expire_unpaid

    with client_for(sqlite_settings) as client:
        (a, *_), sku = shop(sqlite_settings, client)
        user = auth(sqlite_settings, "user", "sam")
        unpaid = order(client, user, a, sku, 2).json()
        paid = order(client, user, a, sku, 1).json()
        client.post(f"/v1/payments/simulated/{paid['payment']['ref']}/pay", headers=user)
    db = Database(sqlite_settings)
    assert quantity(sqlite_settings, a, sku) == 2
    secret = sqlite_settings.secret_key
    assert expire_unpaid(db, secret, older_than_s=3600, now=T0) == []  # not stale yet
    assert expire_unpaid(db, secret, older_than_s=-1, now=T0) == [unpaid["id"]]
    assert quantity(sqlite_settings, a, sku) == 4
