"""The marketing tools' promises at their edges: a double tap on an exchange, a game prize of an
audience campaign, a funnel that counts only what followed the push and cannot be subtracted, an
offer's minimum spend at the till."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from lbs_service.app import create_app
from lbs_service.o2o import coupons as coupons_module
from lbs_service.storage.db import Database
from lbs_service.storage.models import Coupon, PromotionSent, Redemption
from tests.clock import WIDE, at, fixed_clock
from tests.service.test_orders import auth, shop
from tests.service.test_points import _for_points, _give


def _client(settings):
    return TestClient(create_app(settings, fixed_clock()), raise_server_exceptions=False)


def test_concurrent_exchanges_of_one_campaign_answer_409_not_500(sqlite_settings, monkeypatch):
    """Two exchanges of the same campaign by one member at once (a double tap, no Idempotency-Key):
    one wins, the other must be a 409 like a second claim - not a 500 from the coupons' unique key."""
    with _client(sqlite_settings) as client:
        (a, *_), _ = shop(sqlite_settings, client)
        _give(sqlite_settings, "ida", 100)
        campaign = _for_points(client, sqlite_settings, a, 10)
        real_update = coupons_module.update

        def slow_update(*args, **kwargs):  # widen the window between "holds it already?" and the insert
            time.sleep(0.3)
            return real_update(*args, **kwargs)

        monkeypatch.setattr(coupons_module, "update", slow_update)
        start = threading.Barrier(2)
        user = auth(sqlite_settings, "user", "ida")

        def buy(_):
            start.wait()
            return client.post("/v1/points/exchanges", headers=user, json={"campaign_id": campaign}).status_code

        with ThreadPoolExecutor(2) as pool:
            codes = sorted(pool.map(buy, range(2)))
        assert codes == [201, 409], codes


def test_a_game_prize_respects_its_campaigns_audience(sqlite_settings):
    """A campaign for gold members only: a claim by a newcomer is refused (403), yet the same coupon
    is won by that newcomer on a wheel that gives it as a prize."""
    with _client(sqlite_settings) as client:
        (a, *_), _ = shop(sqlite_settings, client)
        operator = auth(sqlite_settings, "operator", "op")
        gold = client.post("/v1/campaigns", headers=operator, json={
            "title": "Gold only", "level": "store", "store_ids": [a], **WIDE,
            "audience": {"tiers": ["gold"]}}).json()["id"]
        newcomer = auth(sqlite_settings, "user", "newcomer")
        assert client.post(f"/v1/campaigns/{gold}/claim", headers=newcomer).status_code == 403
        game = client.post("/v1/games", headers=operator, json={
            "title": "Wheel", "kind": "wheel", **WIDE, "plays_per_user_per_day": 1,
            "prizes": [{"campaign_id": gold, "odds_bp": 10_000, "stock": 10}]}).json()["id"]
        played = client.post(f"/v1/games/{game}/plays", headers=newcomer).json()
        assert played["prize"] is None and played["outcome"] == "not_eligible", played
        audit = client.get(f"/v1/games/{game}/plays", headers=operator).json()
        assert audit["prizes"][0]["won"] == 0  # no stock spent on it


def test_funnel_counts_only_what_followed_the_push(sqlite_settings):
    """Five members claimed and redeemed the coupon on their own, and were pushed the campaign
    afterwards (a redeemed coupon is no longer 'held', so the push is allowed). Nothing of
    claimed/redeemed followed a push: the funnel says 'each from their first push on'."""
    with _client(sqlite_settings) as client:
        (a, *_), _ = shop(sqlite_settings, client)
        operator = auth(sqlite_settings, "operator", "op")
        campaign = client.post("/v1/campaigns", headers=operator, json={
            "title": "Funnel", "level": "store", "store_ids": [a], **WIDE}).json()["id"]
        with Database(sqlite_settings).transaction() as session:
            for n in range(5):
                session.add(Coupon(id=500 + n, campaign_id=campaign, user_id=f"early{n}", code=f"CEARLY{n:04d}",
                                   status="redeemed", claimed_at=at(100), redeemed_at=at(200)))
            session.flush()
            for n in range(5):
                session.add(Redemption(coupon_id=500 + n, store_id=a, staff="s", redeemed_at=at(200)))
                session.add(PromotionSent(user_id=f"early{n}", store_id=a, campaign_id=campaign,
                                          local_day="2026-11-23", sent_at=at(1000)))
        body = client.get(f"/v1/reports/campaigns/{campaign}/funnel", headers=operator).json()
        assert body["sent"] == 5
        assert (body["claimed"], body["redeemed"]) == (0, 0), body


def test_funnel_withheld_store_counts_are_derivable_from_the_whole(sqlite_settings):
    """k = 5: store b's 2 people are withheld (null), but whole minus store a gives them back."""
    with _client(sqlite_settings) as client:
        (a, b, _), _ = shop(sqlite_settings, client)
        operator = auth(sqlite_settings, "operator", "op")
        campaign = client.post("/v1/campaigns", headers=operator, json={
            "title": "Funnel", "level": "store", "store_ids": [a, b], **WIDE}).json()["id"]
        with Database(sqlite_settings).transaction() as session:
            for n in range(7):
                session.add(PromotionSent(user_id=f"u{n}", store_id=a, campaign_id=campaign,
                                          local_day="2026-11-23", sent_at=at(60)))
            for n in range(2):
                session.add(PromotionSent(user_id=f"v{n}", store_id=b, campaign_id=campaign,
                                          local_day="2026-11-23", sent_at=at(60)))
        body = client.get(f"/v1/reports/campaigns/{campaign}/funnel", headers=operator).json()
        by_store = {row["store_id"]: row for row in body["by_store"]}
        assert by_store[b]["sent"] is None  # withheld...
        assert by_store[a]["sent"] is None and body["sent"] == 9  # ...and not to be had back by a subtraction


def test_a_min_spend_offer_cannot_be_redeemed_without_a_basket(sqlite_settings):
    """An offer of 50 % off above 100.00: staff redeem it without saying the basket - the coupon is
    spent, no minimum checked, no discount computed."""
    with _client(sqlite_settings) as client:
        (a, *_), _ = shop(sqlite_settings, client)
        staff = auth(sqlite_settings, "staff", "s", a)
        campaign = client.post("/v1/campaigns", headers=staff, json={
            "title": "Half off", "level": "store", "store_ids": [a], **WIDE,
            "offer": {"kind": "percent", "value": 50, "min_spend_cents": 10_000}}).json()["id"]
        code = client.post(f"/v1/campaigns/{campaign}/claim", headers=auth(sqlite_settings, "user", "u")).json()["code"]
        answer = client.post(f"/v1/stores/{a}/redemptions", headers=staff, json={"code": code})
        assert answer.status_code == 422, answer.json()
        spent = client.post(f"/v1/stores/{a}/redemptions", headers=staff, json={"code": code, "basket_cents": 10_000})
        assert spent.status_code == 200 and spent.json()["discount_cents"] == 5_000
        again = client.post(f"/v1/stores/{a}/redemptions", headers=staff, json={"code": code, "basket_cents": 1})
        assert again.status_code == 409  # spent: that says more than the basket being small
