"""Points: earned once per redemption, pickup and review (amounts are configuration), spent on
coupons by exchange; the balance never goes below zero, whatever runs at once."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from lbs_service.errors import Conflict
from lbs_service.o2o.points import earn
from lbs_service.storage.db import Database
from tests.clock import T0, WIDE
from tests.conftest import client_for
from tests.service.test_orders import auth, order, quantity, shop


def _give(settings, user, amount, ref="gift"):
    with Database(settings).transaction() as session:
        earn(session, user, amount, "test_gift", ref, T0)


def _points(client, settings, user):
    return client.get("/v1/users/me/points", headers=auth(settings, "user", user)).json()


def _for_points(client, settings, store_id, price, title="For points"):
    created = client.post("/v1/campaigns", headers=auth(settings, "staff", "s", store_id), json={
        "title": title, "level": "store", "store_ids": [store_id], "points_price": price, **WIDE})
    assert created.status_code == 201, created.text
    return created.json()["id"]


def test_redemptions_pickups_and_reviews_earn_once(sqlite_settings):
    with client_for(sqlite_settings) as client:
        (a, *_), sku = shop(sqlite_settings, client)
        staff = auth(sqlite_settings, "staff", "s", a)
        user = auth(sqlite_settings, "user", "ema")
        campaign = client.post("/v1/campaigns", headers=staff, json={
            "title": "Visit", "level": "store", "store_ids": [a], **WIDE}).json()["id"]
        code = client.post(f"/v1/campaigns/{campaign}/claim", headers=user).json()["code"]
        keyed = {**staff, "Idempotency-Key": "k1"}
        for _ in range(2):  # a retried redemption earns once
            assert client.post(f"/v1/stores/{a}/redemptions", headers=keyed, json={"code": code}).status_code == 200
        placed = order(client, user, a, sku, 1).json()
        client.post(f"/v1/payments/simulated/{placed['payment']['ref']}/pay", headers=user)
        client.post(f"/v1/orders/{placed['id']}/ready", headers=staff)
        assert client.post(f"/v1/stores/{a}/pickups", headers=staff,
                           json={"code": placed["pickup_code"]}).status_code == 200
        assert client.post(f"/v1/stores/{a}/reviews", headers=user, json={"rating": 5}).status_code == 201
        statement = _points(client, sqlite_settings, "ema")
        assert statement["balance"] == 10 + 20 + 5
        assert [(e["reason"], e["delta"]) for e in statement["entries"]] == [
            ("review", 5), ("pickup", 20), ("redemption", 10)]  # newest first


def _picked_up(client, settings, store_id, sku, user):
    staff = auth(settings, "staff", "s", store_id)
    placed = order(client, user, store_id, sku, 2).json()
    client.post(f"/v1/payments/simulated/{placed['payment']['ref']}/pay", headers=user)
    client.post(f"/v1/orders/{placed['id']}/ready", headers=staff)
    assert client.post(f"/v1/stores/{store_id}/pickups", headers=staff,
                       json={"code": placed["pickup_code"]}).status_code == 200
    return placed


def test_a_returned_order_takes_back_what_its_pickup_earned(sqlite_settings):
    """Picked up (20 points), 15 of them spent on a coupon, then the goods brought back: the order is
    refunded and restocked, and the 5 points left are taken back - the balance stops at zero."""
    with client_for(sqlite_settings) as client:
        (a, b, _), sku = shop(sqlite_settings, client)
        user = auth(sqlite_settings, "user", "ivy")
        placed = _picked_up(client, sqlite_settings, a, sku, user)
        assert quantity(sqlite_settings, a, sku) == 3
        assert _points(client, sqlite_settings, "ivy")["balance"] == 20
        bought = client.post("/v1/points/exchanges", headers=user,
                             json={"campaign_id": _for_points(client, sqlite_settings, a, 15)})
        assert bought.status_code == 201
        assert client.post(f"/v1/orders/{placed['id']}/return", headers=user).status_code == 403
        other_store = auth(sqlite_settings, "staff", "t", b)
        assert client.post(f"/v1/orders/{placed['id']}/return", headers=other_store).status_code == 404
        returned = client.post(f"/v1/orders/{placed['id']}/return", headers=auth(sqlite_settings, "staff", "s", a))
        assert returned.status_code == 200 and returned.json()["status"] == "refunded"
        assert quantity(sqlite_settings, a, sku) == 5  # back on the shelf
        statement = _points(client, sqlite_settings, "ivy")
        assert statement["balance"] == 0 and statement["entries"][0] == {
            "delta": -5, "reason": "undo_pickup", "ref": str(placed["id"]), "at": statement["entries"][0]["at"]}
        again = client.post(f"/v1/orders/{placed['id']}/return", headers=auth(sqlite_settings, "staff", "s", a))
        assert again.status_code == 409  # refunded once
        rebates = client.get("/v1/reports/rebates?month=2026-11", headers=auth(sqlite_settings, "operator", "op"))
        assert all(r["orders"] == 0 for r in rebates.json() if r["store_id"] == a)  # a returned order never counts


def test_returns_close_after_the_window(sqlite_settings):
    from lbs_service.o2o.orders import RETURN_WINDOW, return_order
    from lbs_service.o2o.payments import SimulatedProvider

    with client_for(sqlite_settings) as client:
        (a, *_), sku = shop(sqlite_settings, client)
        placed = _picked_up(client, sqlite_settings, a, sku, auth(sqlite_settings, "user", "jo"))
        late = T0 + RETURN_WINDOW + timedelta(minutes=5)
        with pytest.raises(Conflict):
            return_order(Database(sqlite_settings), SimulatedProvider(sqlite_settings), sqlite_settings.secret_key,
                         placed["id"], a, late)


def test_a_refunded_order_leaves_nothing_earned(sqlite_settings):
    with client_for(sqlite_settings) as client:
        (a, *_), sku = shop(sqlite_settings, client)
        user = auth(sqlite_settings, "user", "fay")
        placed = order(client, user, a, sku, 1).json()
        client.post(f"/v1/payments/simulated/{placed['payment']['ref']}/pay", headers=user)
        assert client.post(f"/v1/orders/{placed['id']}/cancel", headers=user).json()["status"] == "refunded"
        assert _points(client, sqlite_settings, "fay") == {"balance": 0, "entries": []}


def test_exchange_spends_points_for_a_coupon_and_retries_answer_alike(sqlite_settings):
    with client_for(sqlite_settings) as client:
        (a, *_), _ = shop(sqlite_settings, client)
        _give(sqlite_settings, "gus", 35)
        price25 = _for_points(client, sqlite_settings, a, 25)
        other = _for_points(client, sqlite_settings, a, 25, "Other")
        user = auth(sqlite_settings, "user", "gus")
        assert client.post(f"/v1/campaigns/{price25}/claim", headers=user).status_code == 409  # bought, not claimed
        keyed = {**user, "Idempotency-Key": "x1"}
        bought = client.post("/v1/points/exchanges", headers=keyed, json={"campaign_id": price25})
        assert bought.status_code == 201, bought.text
        assert bought.json()["balance"] == 10 and bought.json()["points_spent"] == 25
        assert client.post("/v1/points/exchanges", headers=keyed, json={"campaign_id": price25}).json() == bought.json()
        assert client.post("/v1/points/exchanges", headers=keyed, json={"campaign_id": other}).status_code == 422
        short = client.post("/v1/points/exchanges", headers=user, json={"campaign_id": other})
        assert short.status_code == 409
        assert _points(client, sqlite_settings, "gus")["balance"] == 10  # the refusal took nothing
        coupons = client.get("/v1/users/me/coupons", headers=user).json()
        assert [c["campaign_id"] for c in coupons] == [price25]


def test_concurrent_exchanges_never_overdraw(sqlite_settings):
    with client_for(sqlite_settings) as client:
        (a, *_), _ = shop(sqlite_settings, client)
        _give(sqlite_settings, "hal", 100)
        campaigns = [_for_points(client, sqlite_settings, a, 30, f"C{n}") for n in range(10)]
        user = auth(sqlite_settings, "user", "hal")
        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(lambda c: client.post("/v1/points/exchanges", headers=user,
                                                        json={"campaign_id": c}).status_code, campaigns))
        assert sorted(codes) == [201] * 3 + [409] * 7
        statement = _points(client, sqlite_settings, "hal")
        assert statement["balance"] == 10 == 100 + sum(e["delta"] for e in statement["entries"] if e["reason"] !=
                                                       "test_gift")
        assert len(client.get("/v1/users/me/coupons", headers=user).json()) == 3
