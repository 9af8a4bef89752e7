"""Outlet tiers and rebates: a property over random gradients, and the monthly report."""

import csv
import io
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from lbs_service.o2o.rebates import Band, band_for, check_gradient, monthly_report, rebate_cents
from lbs_service.storage.db import Database
from lbs_service.storage.models import Order
from tests.clock import T0
from tests.conftest import client_for
from tests.service.test_orders import auth, order, shop


@st.composite
def gradients(draw):
    steps = draw(st.lists(st.tuples(st.integers(1, 10**7), st.integers(0, 300)), min_size=0, max_size=6))
    bands, volume, rate = [Band(0, 1, draw(st.integers(0, 100)))], 0, 0
    for extra_volume, extra_rate in steps:
        volume += extra_volume
        rate = max(rate, bands[-1].rate_bp) + extra_rate
        bands.append(Band(volume, bands[-1].stars + 1, rate))
    check_gradient(bands)
    return bands


@settings(max_examples=300, deadline=None)
@given(gradients(), st.integers(0, 10**9), st.integers(0, 10**9))
def test_tiers_and_rebates_follow_the_gradient(gradient, a, b):
    low, high = sorted((a, b))
    band_low, band_high = band_for(low, gradient), band_for(high, gradient)
    assert band_low.stars <= band_high.stars and band_low.rate_bp <= band_high.rate_bp  # more volume, never less
    following = [g for g in gradient if g.min_volume_cents > high]
    assert band_high.min_volume_cents <= high and (not following or high < following[0].min_volume_cents)
    assert rebate_cents(high, band_high) == high * band_high.rate_bp // 10_000  # whole cents, rounded down
    assert rebate_cents(high, band_high) == rebate_cents(high, band_for(high, gradient))  # recomputing agrees


def test_monthly_report_counts_pickups_once_and_excludes_refunds(sqlite_settings):
    with client_for(sqlite_settings) as client:
        (a, _, c), sku = shop(sqlite_settings, client, stock=(50, 0, 50))
        user = auth(sqlite_settings, "user", "vic")
        staff_a = auth(sqlite_settings, "staff", "s", a)
        placed = []
        for store, count in ((a, 3), (a, 2), (a, 1), (c, 1)):
            o = order(client, user, store, sku, count).json()
            client.post(f"/v1/payments/simulated/{o['payment']['ref']}/pay", headers=user)
            placed.append(o)
        for o in placed[:2] + placed[3:]:
            staff = auth(sqlite_settings, "staff", "s", o["store_id"])
            client.post(f"/v1/orders/{o['id']}/ready", headers=staff)
            assert client.post(f"/v1/stores/{o['store_id']}/pickups", headers=staff,
                               json={"code": o["pickup_code"]}).status_code == 200
        assert client.post(f"/v1/orders/{placed[2]['id']}/cancel", headers=user).json()["status"] == "refunded"
        db = Database(sqlite_settings)
        with db.transaction() as session:  # the order at c was picked up on 1 Nov, 00:30 in Shanghai
            session.get(Order, placed[3]["id"]).picked_up_at = datetime(2026, 10, 31, 16, 30, tzinfo=UTC)
        month = T0.strftime("%Y-%m")
        gradient = [Band(0, 1, 0), Band(5_000, 2, 100), Band(9_995, 3, 250)]  # 5 x 19.99 lands exactly on 3 stars
        report = monthly_report(db, month, gradient)
        rows = {r.store_id: r for r in report}
        assert rows[a].orders == 2 and rows[a].volume_cents == 5 * 1999  # the refunded order is not there
        assert rows[a].stars == 3 and rows[a].rebate_cents == 5 * 1999 * 250 // 10_000
        assert monthly_report(db, month, gradient) == report  # recomputing gives the same
        if month != "2026-11":
            assert c not in rows
        november = {r.store_id: r for r in monthly_report(db, "2026-11", gradient)}
        assert november[c].orders == 1 and november[c].volume_cents == 1999 and november[c].stars == 1
        october = {r.store_id: r for r in monthly_report(db, "2026-10", gradient)}
        assert c not in october  # 16:30 UTC on 31 Oct is already November in the outlet's zone
        body = client.get("/v1/reports/rebates", params={"month": month, "format": "csv"},
                          headers=auth(sqlite_settings, "operator", "op"))
        assert body.headers["content-type"].startswith("text/csv")
        parsed = {int(r["store_id"]): r for r in csv.DictReader(io.StringIO(body.text))}
        assert int(parsed[a]["volume_cents"]) == 5 * 1999
        assert client.get("/v1/reports/rebates", params={"month": month}, headers=staff_a).status_code == 403
        assert client.get("/v1/reports/rebates", params={"month": "2026-13"},
                          headers=auth(sqlite_settings, "operator", "op")).status_code == 422
