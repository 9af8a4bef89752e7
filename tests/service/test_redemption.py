"""Coupons redeemed once by code or QR, safely retried with Idempotency-Key, only where valid."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from lbs_service.o2o.coupons import claim
from lbs_service.o2o.qr import mint_qr_token
from lbs_service.storage.db import Database
from lbs_service.storage.models import Campaign, Redemption
from tests.clock import T0, TIERS
from tests.conftest import client_for
from tests.live import drain, fix, live_server, receive, token, ws_connect
from tests.service.test_nearby_api import seed


def bearer(settings, role, subject, store_id=None):
    return {"Authorization": f"Bearer {token(settings, role, subject, store_id)}"}


def setup_coupon(settings, count=4):
    seed(settings, count=count)
    db = Database(settings)
    with client_for(settings) as client:
        ids = sorted(int(f["id"]) for f in client.get("/v1/stores/nearby", params={
            "lat": 32.05, "lng": 118.78, "radius_m": 50000, "limit": 10}).json()["features"])
    now = T0
    with db.transaction() as session:
        campaign = Campaign(title="Only at A", level="store", store_ids=[ids[0]], starts_at=now - timedelta(hours=1),
                            ends_at=now + timedelta(days=1), per_user_limit=1, priority=0, claimed=0, created_by="t")
        session.add(campaign)
        session.flush()
        campaign_id = campaign.id
    coupon = claim(db, campaign_id, "holder", T0, TIERS)
    return db, ids, coupon


def test_idempotent_retries_and_single_use(sqlite_settings):
    db, (a, *_), coupon = setup_coupon(sqlite_settings)
    with client_for(sqlite_settings) as client:
        staff = bearer(sqlite_settings, "staff", "s1", a)
        url = f"/v1/stores/{a}/redemptions"
        first = client.post(url, json={"code": coupon.code}, headers={**staff, "Idempotency-Key": "k1"})
        assert first.status_code == 200 and first.json()["coupon_id"] == coupon.id
        again = client.post(url, json={"code": coupon.code}, headers={**staff, "Idempotency-Key": "k1"})
        assert again.status_code == 200 and again.json() == first.json()
        other_body = client.post(url, json={"code": "ZZZZZZZZZZ"}, headers={**staff, "Idempotency-Key": "k1"})
        assert other_body.status_code == 422
        second = client.post(url, json={"code": coupon.code}, headers={**staff, "Idempotency-Key": "k2"})
        assert second.status_code == 409 and second.headers["content-type"] == "application/problem+json"
        retry = client.post(url, json={"code": coupon.code}, headers={**staff, "Idempotency-Key": "k2"})
        assert retry.status_code == 409
        assert client.post(url, json={"code": coupon.code}, headers=staff).status_code == 409
    with db.session() as session:
        assert session.query(Redemption).count() == 1


def test_another_stores_staff_cannot_redeem(sqlite_settings):
    _, (a, b, *_), coupon = setup_coupon(sqlite_settings)
    with client_for(sqlite_settings) as client:
        at_b = client.post(f"/v1/stores/{b}/redemptions", json={"code": coupon.code},
                           headers=bearer(sqlite_settings, "staff", "s2", b))
        assert at_b.status_code == 403 and "not valid at store" in at_b.json()["detail"]
        wrong_token = client.post(f"/v1/stores/{a}/redemptions", json={"code": coupon.code},
                                  headers=bearer(sqlite_settings, "staff", "s2", b))
        assert wrong_token.status_code == 403
        user = client.post(f"/v1/stores/{a}/redemptions", json={"code": coupon.code},
                           headers=bearer(sqlite_settings, "user", "holder"))
        assert user.status_code == 403
        assert client.post(f"/v1/stores/{a}/redemptions", json={"code": coupon.code, "x": 1},
                           headers=bearer(sqlite_settings, "staff", "s1", a)).status_code == 422


def test_qr_payload_redeems_and_an_expired_one_is_refused(sqlite_settings):
    _, (a, *_), coupon = setup_coupon(sqlite_settings)
    with client_for(sqlite_settings) as client:
        holder = bearer(sqlite_settings, "user", "holder")
        svg = client.get(f"/v1/coupons/{coupon.id}/qr.svg", headers=holder)
        assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml" and b"<svg" in svg.content
        png = client.get(f"/v1/coupons/{coupon.id}/qr.png", headers=holder)
        assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
        stranger = bearer(sqlite_settings, "user", "x")
        assert client.get(f"/v1/coupons/{coupon.id}/qr.svg", headers=stranger).status_code == 404
        staff = bearer(sqlite_settings, "staff", "s1", a)
        stale = mint_qr_token(sqlite_settings, "coupon", coupon.id, "holder", ttl_s=-5)  # a screenshot from a while ago
        refused = client.post(f"/v1/stores/{a}/redemptions", json={"code": stale}, headers=staff)
        assert refused.status_code == 422 and "expired" in refused.json()["detail"]
        other_secret = sqlite_settings.model_copy(update={"secret_key": "y" * 40})
        forged = mint_qr_token(other_secret, "coupon", coupon.id, "holder")
        assert client.post(f"/v1/stores/{a}/redemptions", json={"code": forged}, headers=staff).status_code == 422
        fresh = client.get(f"/v1/coupons/{coupon.id}/qr", headers=holder).json()["payload"]
        assert client.post(f"/v1/stores/{a}/redemptions", json={"code": fresh}, headers=staff).status_code == 200


def concurrent_redemptions(settings, attempts=50):
    _, (a, *_), coupon = setup_coupon(settings)
    with client_for(settings) as client:
        staff = [bearer(settings, "staff", f"till-{n}", a) for n in (1, 2)]

        def attempt(n):
            headers = {**staff[n % 2], "Idempotency-Key": f"key-{n}"}
            return client.post(f"/v1/stores/{a}/redemptions", json={"code": coupon.code}, headers=headers).status_code

        with ThreadPoolExecutor(max_workers=16) as pool:
            codes = list(pool.map(attempt, range(attempts)))
    with Database(settings).session() as session:
        rows = session.query(Redemption).count()
    return codes, rows


@pytest.mark.postgis
def test_fifty_concurrent_redemptions_on_postgis(pg_settings):
    codes, rows = concurrent_redemptions(pg_settings)
    assert codes.count(200) == 1 and codes.count(409) == 49 and rows == 1


def test_concurrent_redemptions_on_the_embedded_default(sqlite_settings):
    codes, rows = concurrent_redemptions(sqlite_settings, attempts=20)
    assert codes.count(200) == 1 and codes.count(409) == 19 and rows == 1


def test_same_key_twice_at_once_runs_once(sqlite_settings):
    _, (a, *_), coupon = setup_coupon(sqlite_settings)
    with client_for(sqlite_settings) as client:
        headers = {**bearer(sqlite_settings, "staff", "s1", a), "Idempotency-Key": "same"}

        def attempt(_):
            response = client.post(f"/v1/stores/{a}/redemptions", json={"code": coupon.code}, headers=headers)
            return response.status_code, response.json()

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(attempt, range(8)))
    assert {status for status, _ in results} == {200}
    assert len({body["redeemed_at"] for _, body in results}) == 1


async def test_claim_then_arrival_shows_the_coupon_then_redeem_counts_a_visit(sqlite_settings):
    settings = sqlite_settings.model_copy(update={"fence_dwell_s": 0.0, "member_tiers": {"silver": 1},
                                                  "alert_min_tier": "silver"})
    db, (a, *_), coupon = setup_coupon(settings)
    from lbs_service.storage.models import Store

    with db.session() as session:
        store = session.get(Store, a)
        lat, lng = store.lat, store.lng
    with live_server(settings) as host:
        path = f"/v1/ws/stores/{a}?token={token(settings, 'staff', 's1', a)}"
        async with ws_connect(host, path) as console, ws_connect(
                host, f"/v1/ws/user?token={token(settings, 'user', 'holder')}") as user:
            await user.send(fix(lat + 0.004, lng))  # 440 m out: nearby
            await user.send(fix(lat + 0.0002, lng))  # 22 m: arrived, with a coupon valid here: a card
            first = await receive(console)
            assert first["type"] == "arrival" and first["stage"] == "arrived"
            assert first["context"]["tier"] == "member"
            assert first["context"]["coupons"] == [{"campaign_id": coupon.campaign_id, "title": "Only at A"}]
            assert "coupon_id" not in str(first)  # a coupon id would link the person across stores
            import httpx

            async with httpx.AsyncClient(base_url=f"http://{host}") as http:
                done = await http.post(f"/v1/stores/{a}/redemptions", json={"code": coupon.code},
                                       headers=bearer(settings, "staff", "s1", a))
                assert done.status_code == 200
            await user.send(fix(lat + 0.05, lng))  # leave, and come back
            await user.send(fix(lat + 0.0002, lng))
            messages = await drain(console, 1.0)
            second = [m for m in messages if m["type"] == "arrival"]
            assert len(second) == 1  # a silver member of this merchant: intent enough for a card
            assert second[0]["context"] == {"tier": "silver", "coupons": [], "orders": [], "offer": None}


def test_one_fix_into_two_stores_gives_each_its_own_context(sqlite_settings):
    from lbs_service.o2o import customers
    from lbs_service.proximity.decisions import CardRules, card_context
    from lbs_service.records import record_of
    from lbs_service.storage.models import Order, Store

    db, (a, b, *_), coupon = setup_coupon(sqlite_settings)  # the coupon is valid at a only
    with db.transaction() as session:
        session.add(Order(user_id="holder", store_id=b, status="ready", total_cents=500, payment_ref="r1",
                          pickup_code="PTESTCODE1", created_at=T0))
    rules = CardRules("intent", None, {"silver": 1})
    with db.session() as session:
        stores = {s: record_of(session.get(Store, s)) for s in (a, b)}
        customer = customers.load(session, "holder", T0, TIERS)
    card_a, context_a = card_context(customer, stores[a], None, None, T0, rules)
    card_b, context_b = card_context(customer, stores[b], None, None, T0, rules)
    assert card_a and [c["campaign_id"] for c in context_a["coupons"]] == [coupon.campaign_id]
    assert context_a["orders"] == []
    assert card_b and context_b["coupons"] == [] and [o["order_id"] for o in context_b["orders"]] == [1]
    assert context_a["tier"] == context_b["tier"] == "member"
    with db.session() as session:
        stranger = customers.load(session, "stranger", T0, TIERS)
    card, nobody = card_context(stranger, stores[a], None, None, T0, rules)
    assert not card and nobody["coupons"] == nobody["orders"] == []  # no intent: no card
