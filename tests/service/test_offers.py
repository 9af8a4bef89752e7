"""Offers with value: a percentage or an amount off at the till (on a given basket) and on an order
for pickup (its total), a coupon spent exactly once whichever way, and given back when the order is
cancelled before pickup."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.clock import WIDE
from tests.conftest import client_for
from tests.service.test_orders import auth, shop


def _campaign(client, settings, store_id, offer, **extra):
    created = client.post("/v1/campaigns", headers=auth(settings, "staff", "s", store_id), json={
        "title": "Offer", "level": "store", "store_ids": [store_id], "offer": offer, **WIDE, **extra})
    assert created.status_code == 201, created.text
    return created.json()


def _coupon(client, settings, campaign_id, user):
    claimed = client.post(f"/v1/campaigns/{campaign_id}/claim", headers=auth(settings, "user", user))
    assert claimed.status_code == 201, claimed.text
    return claimed.json()


def _status(client, settings, user, coupon_id):
    mine = client.get("/v1/users/me/coupons", headers=auth(settings, "user", user)).json()
    return next(c["status"] for c in mine if c["id"] == coupon_id)


def test_percent_off_at_the_till_needs_the_minimum_spend(sqlite_settings):
    with client_for(sqlite_settings) as client:
        (a, *_), _ = shop(sqlite_settings, client)
        campaign = _campaign(client, sqlite_settings, a, {"kind": "percent", "value": 15, "min_spend_cents": 2000})
        assert campaign["offer"] == {"kind": "percent", "value": 15, "min_spend_cents": 2000}
        coupon = _coupon(client, sqlite_settings, campaign["id"], "pia")
        staff = {**auth(sqlite_settings, "staff", "s", a), "Idempotency-Key": "till-1"}
        short = client.post(f"/v1/stores/{a}/redemptions", headers=auth(sqlite_settings, "staff", "s", a),
                            json={"code": coupon["code"], "basket_cents": 1999})
        assert short.status_code == 422 and "2000" in short.json()["detail"]
        assert _status(client, sqlite_settings, "pia", coupon["id"]) == "claimed"  # refused: still unspent
        done = client.post(f"/v1/stores/{a}/redemptions", headers=staff,
                           json={"code": coupon["code"], "basket_cents": 3333})
        assert done.status_code == 200, done.text
        body = done.json()
        assert (body["basket_cents"], body["discount_cents"], body["pay_cents"]) == (3333, 499, 2834)  # rounded down
        again = client.post(f"/v1/stores/{a}/redemptions", headers=staff,
                            json={"code": coupon["code"], "basket_cents": 3333})
        assert again.status_code == 200 and again.json() == body  # the same key: the same answer
        other_key = client.post(f"/v1/stores/{a}/redemptions",
                                headers={**staff, "Idempotency-Key": "till-2"}, json={"code": coupon["code"]})
        assert other_key.status_code == 409


def test_an_amount_never_takes_off_more_than_the_basket(sqlite_settings):
    with client_for(sqlite_settings) as client:
        (a, *_), _ = shop(sqlite_settings, client)
        campaign = _campaign(client, sqlite_settings, a, {"kind": "amount", "value": 5000})
        coupon = _coupon(client, sqlite_settings, campaign["id"], "raj")
        done = client.post(f"/v1/stores/{a}/redemptions", headers=auth(sqlite_settings, "staff", "s", a),
                           json={"code": coupon["code"], "basket_cents": 1200}).json()
        assert (done["discount_cents"], done["pay_cents"]) == (1200, 0)


def test_offer_on_an_order_is_spent_once_and_given_back_on_cancel(sqlite_settings):
    with client_for(sqlite_settings) as client:
        (a, b, _), sku = shop(sqlite_settings, client, stock=(5, 5, 5))
        campaign = _campaign(client, sqlite_settings, a, {"kind": "amount", "value": 500, "min_spend_cents": 1000})
        coupon = _coupon(client, sqlite_settings, campaign["id"], "olga")
        user = auth(sqlite_settings, "user", "olga")
        elsewhere = client.post("/v1/orders", headers=user, json={
            "store_id": b, "lines": [{"sku_id": sku, "quantity": 1}], "coupon_code": coupon["code"]})
        assert elsewhere.status_code == 403  # a store campaign of store a
        placed = client.post("/v1/orders", headers=user, json={
            "store_id": a, "lines": [{"sku_id": sku, "quantity": 2}], "coupon_code": coupon["code"].lower()})
        assert placed.status_code == 201, placed.text
        first = placed.json()
        assert (first["total_cents"], first["discount_cents"], first["coupon_id"]) == (2 * 1999 - 500, 500,
                                                                                      coupon["id"])
        assert first["payment"]["amount_cents"] == 2 * 1999 - 500
        assert _status(client, sqlite_settings, "olga", coupon["id"]) == "redeemed"
        second = client.post("/v1/orders", headers=user, json={
            "store_id": a, "lines": [{"sku_id": sku, "quantity": 1}], "coupon_code": coupon["code"]})
        assert second.status_code == 409
        till = client.post(f"/v1/stores/{a}/redemptions", headers=auth(sqlite_settings, "staff", "s", a),
                           json={"code": coupon["code"]})
        assert till.status_code == 409  # spent on the order: not again at the till
        assert client.post(f"/v1/orders/{first['id']}/cancel", headers=user).status_code == 200
        assert _status(client, sqlite_settings, "olga", coupon["id"]) == "claimed"  # given back
        again = client.post("/v1/orders", headers=user, json={
            "store_id": a, "lines": [{"sku_id": sku, "quantity": 1}], "coupon_code": coupon["code"]})
        assert again.status_code == 201 and again.json()["total_cents"] == 1999 - 500
        ref = again.json()["payment"]["ref"]
        assert client.post(f"/v1/payments/simulated/{ref}/pay", headers=user).json()["status"] == "paid"
        staff = auth(sqlite_settings, "staff", "s", a)
        assert client.post(f"/v1/orders/{again.json()['id']}/ready", headers=staff).status_code == 200
        picked = client.post(f"/v1/stores/{a}/pickups", headers=staff, json={"code": again.json()["pickup_code"]})
        assert picked.status_code == 200
        assert _status(client, sqlite_settings, "olga", coupon["id"]) == "redeemed"  # spent for good


def test_someone_elses_coupon_and_a_basket_too_small_are_refused(sqlite_settings):
    with client_for(sqlite_settings) as client:
        (a, *_), sku = shop(sqlite_settings, client)
        campaign = _campaign(client, sqlite_settings, a, {"kind": "percent", "value": 10, "min_spend_cents": 5000})
        coupon = _coupon(client, sqlite_settings, campaign["id"], "owner")
        theft = client.post("/v1/orders", headers=auth(sqlite_settings, "user", "thief"), json={
            "store_id": a, "lines": [{"sku_id": sku, "quantity": 1}], "coupon_code": coupon["code"]})
        assert theft.status_code == 404
        small = client.post("/v1/orders", headers=auth(sqlite_settings, "user", "owner"), json={
            "store_id": a, "lines": [{"sku_id": sku, "quantity": 1}], "coupon_code": coupon["code"]})
        assert small.status_code == 422
        assert _status(client, sqlite_settings, "owner", coupon["id"]) == "claimed"


@pytest.mark.parametrize("offer", [{"kind": "percent", "value": 101}, {"kind": "amount", "value": 0},
                                   {"kind": "percent", "value": 10, "min_spend_cents": -1},
                                   {"kind": "free", "value": 1}, {"kind": "amount", "value": 10**13}])
def test_offers_out_of_range_are_refused(sqlite_settings, offer):
    with client_for(sqlite_settings) as client:
        (a, *_), _ = shop(sqlite_settings, client)
        created = client.post("/v1/campaigns", headers=auth(sqlite_settings, "staff", "s", a), json={
            "title": "Bad", "level": "store", "store_ids": [a], "offer": offer, **WIDE})
        assert created.status_code == 422


def test_one_coupon_on_concurrent_orders_and_till_is_spent_once(sqlite_settings):
    with client_for(sqlite_settings) as client:
        (a, *_), sku = shop(sqlite_settings, client, stock=(50, 0, 0))
        campaign = _campaign(client, sqlite_settings, a, {"kind": "amount", "value": 100})
        coupon = _coupon(client, sqlite_settings, campaign["id"], "dup")
        user = auth(sqlite_settings, "user", "dup")
        staff = auth(sqlite_settings, "staff", "s", a)

        def attempt(n):
            if n % 2:
                return client.post(f"/v1/stores/{a}/redemptions", headers=staff,
                                   json={"code": coupon["code"]}).status_code
            return client.post("/v1/orders", headers=user, json={
                "store_id": a, "lines": [{"sku_id": sku, "quantity": 1}], "coupon_code": coupon["code"]}).status_code

        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(attempt, range(16)))
        assert sum(c in (200, 201) for c in codes) == 1, codes
        assert all(c in (200, 201, 409) for c in codes), codes
