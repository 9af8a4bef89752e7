"""A campaign's funnel counts people exactly as the event log says, stage by stage, each from their
first push until the campaign ended, and withholds any count of fewer than k people."""

import csv
import io
from datetime import timedelta

from lbs_service.storage.db import Database
from lbs_service.storage.models import Coupon, Order, PromotionSent, Redemption, Review, Visit
from tests.clock import WIDE, at
from tests.conftest import client_for
from tests.live import token
from tests.service.test_orders import auth, shop


def _visit(user, store, arrived):
    return Visit(user_id=user, store_id=store, stage=4, started_at=arrived - timedelta(minutes=5),
                 arrived_at=arrived, left_at=arrived + timedelta(minutes=20), dwell_s=1200, updated_at=arrived)


def _seed(settings, campaign, a, b, c):
    """9 people pushed (7 at a, 2 at b); what each then did, with the answer worked out by hand below."""
    rows = []
    for n in range(7):
        rows.append(PromotionSent(user_id=f"u{n}", store_id=a, campaign_id=campaign, local_day="2026-11-23",
                                  sent_at=at(60 * n)))
    rows += [PromotionSent(user_id=f"v{n}", store_id=b, campaign_id=campaign, local_day="2026-11-23",
                           sent_at=at(600)) for n in range(2)]
    rows += [_visit(f"u{n}", a, at(60 * n + 300)) for n in range(6)]  # u0..u5 came to a after their push
    rows += [_visit("u6", c, at(900)),  # u6 went to a store outside the campaign
             _visit("v0", b, at(300)),  # v0 was at b before the push: not the campaign's doing
             _visit("v1", b, at(1200)),
             _visit("u0", a, at(-3600))]  # before any push: not counted
    coupons = [Coupon(id=100 + n, campaign_id=campaign, user_id=f"u{n}", code=f"CFUNNEL{n:03d}",
                      status="redeemed" if n < 5 else "claimed", claimed_at=at(400)) for n in range(5)]
    coupons.append(Coupon(id=200, campaign_id=campaign, user_id="v0", code="CFUNNELV0", status="claimed",
                          claimed_at=at(700)))
    redemptions = [Redemption(coupon_id=100 + n, store_id=a, staff="s", redeemed_at=at(500)) for n in range(5)]
    orders = [Order(user_id="u0", store_id=a, status="picked_up", total_cents=100, payment_ref="rf1",
                    pickup_code="PFUNNEL001", created_at=at(800)),
              Order(user_id="u1", store_id=a, status="cancelled", total_cents=100, payment_ref="rf2",
                    pickup_code="PFUNNEL002", created_at=at(800))]
    reviews = [Review(user_id="u0", store_id=a, visit_kind="redemption", visit_id=1, rating=5, created_at=at(900))]
    with Database(settings).transaction() as session:
        session.add_all(rows + coupons)
        session.flush()
        session.add_all(redemptions + orders + reviews)


def test_funnel_counts_people_exactly_and_withholds_small_rows(sqlite_settings):
    with client_for(sqlite_settings) as client:
        (a, b, c), _ = shop(sqlite_settings, client)
        campaign = client.post("/v1/campaigns", headers=auth(sqlite_settings, "operator", "op"), json={
            "title": "Funnel", "level": "store", "store_ids": [a, b], **WIDE}).json()["id"]
        _seed(sqlite_settings, campaign, a, b, c)
        operator = auth(sqlite_settings, "operator", "op")
        report = client.get(f"/v1/reports/campaigns/{campaign}/funnel", headers=operator)
        assert report.status_code == 200, report.text
        body = report.json()
        assert {s: body[s] for s in ("sent", "arrived", "claimed", "redeemed", "ordered", "reviewed")} == {
            "sent": 9, "arrived": 7, "claimed": 6, "redeemed": 5, "ordered": None, "reviewed": None}
        assert body["rates"] == {"arrived": round(7 / 9, 4), "claimed": round(6 / 9, 4),
                                 "redeemed": round(5 / 9, 4), "ordered": None, "reviewed": None}
        by_store = {row["store_id"]: row for row in body["by_store"]}
        assert set(by_store) == {a, b}
        assert by_store[b]["sent"] is None and by_store[b]["arrived"] is None  # 2 and 1 people: withheld
        # ...and so are store a's sent (7), arrived (6) and claimed (5): the whole less them would give b's back
        assert (by_store[a]["sent"], by_store[a]["arrived"], by_store[a]["claimed"], by_store[a]["redeemed"]) == (
            None, None, None, 5)
        assert by_store[b]["redeemed"] == 0 and by_store[a]["rates"]["redeemed"] is None
        assert "u0" not in report.text and "v1" not in report.text
        exported = list(csv.DictReader(io.StringIO(client.get(
            f"/v1/reports/campaigns/{campaign}/funnel?format=csv", headers=operator).text)))
        assert exported[0]["store_id"] == "" and exported[0]["sent"] == "9" and exported[0]["ordered"] == ""
        merchant = client.get(f"/v1/stores/{a}").json()["properties"]["merchant_id"]
        own = {"Authorization": f"Bearer {token(sqlite_settings, 'merchant', 'boss', None, merchant)}"}
        other = {"Authorization": f"Bearer {token(sqlite_settings, 'merchant', 'rival', None, merchant + 1)}"}
        assert client.get(f"/v1/reports/campaigns/{campaign}/funnel", headers=own).status_code == 200
        assert client.get(f"/v1/reports/campaigns/{campaign}/funnel", headers=other).status_code == 404


def test_a_campaign_nobody_was_pushed_has_an_empty_funnel(sqlite_settings):
    with client_for(sqlite_settings) as client:
        (a, *_), _ = shop(sqlite_settings, client)
        campaign = client.post("/v1/campaigns", headers=auth(sqlite_settings, "operator", "op"), json={
            "title": "Quiet", "level": "store", "store_ids": [a], **WIDE}).json()["id"]
        body = client.get(f"/v1/reports/campaigns/{campaign}/funnel",
                          headers=auth(sqlite_settings, "operator", "op")).json()
        assert body["sent"] == 0 and body["by_store"] == [] and body["rates"]["arrived"] is None
