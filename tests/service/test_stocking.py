"""Stocking suggestions on a seeded history whose answer is worked out by hand: weekday means of the
units sold over four weeks, the next seven days, the visit trend, less what is on hand."""

from datetime import timedelta

from lbs_service.storage.db import Database
from lbs_service.storage.models import MemberEvent, Order, OrderLine
from tests.clock import T0
from tests.conftest import client_for
from tests.importer.test_import import lbs
from tests.live import token
from tests.service.test_orders import auth, shop

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)  # the service's clock runs on from T0: stay clear of the window's edge


def _sold(session, store, sku, when, units, status="picked_up", n=[0]):  # noqa: B006 (a counter for unique codes)
    n[0] += 1
    order = Order(user_id="buyer", store_id=store, status=status, total_cents=units * 1999,
                  payment_ref=f"stk{n[0]}", pickup_code=f"PSTOCK{n[0]:04d}", created_at=when)
    session.add(order)
    session.flush()
    session.add(OrderLine(order_id=order.id, sku_id=sku, quantity=units, price_cents=1999))


def test_suggestion_matches_the_hand_worked_answer(sqlite_settings):
    """T0 is a Monday noon in Shanghai. Mondays sold 2 each of the last four weeks (mean 2); Saturdays 4,
    0, 4, 0 (mean 2); a cancelled order of 100 does not count. The next seven days (Tuesday to Monday)
    hold one Monday and one Saturday: 4 units. Visits: 4 in the last week against a weekly mean of 2
    over the four weeks, a trend of x2 (the bound): 8 units. On hand 5: order 3."""
    with client_for(sqlite_settings) as client:
        (a, *_), sku = shop(sqlite_settings, client, stock=(5, 0, 0))
        with Database(sqlite_settings).transaction() as session:
            for week in range(1, 5):
                _sold(session, a, sku, T0 - 7 * week * DAY + HOUR, 2)  # Mondays, 13:00
                if week % 2:
                    _sold(session, a, sku, T0 - (7 * week - 5) * DAY, 4)  # the Saturday after that Monday
            _sold(session, a, sku, T0 - 3 * DAY, 100, status="cancelled")
            _sold(session, a, sku, T0 - 40 * DAY, 50)  # before the four weeks
            for day in (1, 2, 3, 4, 10, 12, 20, 26):
                session.add(MemberEvent(user_id=f"v{day}", store_id=a, kind="visit", data={}, at=T0 - day * DAY))
        staff = auth(sqlite_settings, "staff", "s", a)
        answer = client.get(f"/v1/stores/{a}/stock/suggestions", headers=staff)
        assert answer.status_code == 200, answer.text
        [row] = answer.json()
        assert row["sku_id"] == sku and row["on_hand"] == 5
        assert row["by_weekday"] == [2.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0]
        assert row["forecast_7d"] == 8.0 and row["suggested_order"] == 3
        assert "4 weeks" in row["method"]
        printed = lbs(sqlite_settings, "report", "stocking", "--store", str(a), "--at", T0.isoformat())
        assert printed.returncode == 0, printed.stderr
        assert "CABLE-C" in printed.stdout and " 3 " in printed.stdout.replace("│", " ")  # the same answer, by hand
        assert lbs(sqlite_settings, "report", "stocking", "--store", "999999").returncode == 2
        assert lbs(sqlite_settings, "report", "stocking", "--store", str(a), "--at", "yesterday").returncode == 2
        merchant = client.get(f"/v1/stores/{a}").json()["properties"]["merchant_id"]
        own = {"Authorization": f"Bearer {token(sqlite_settings, 'merchant', 'boss', None, merchant)}"}
        assert client.get(f"/v1/stores/{a}/stock/suggestions", headers=own).status_code == 200
        assert client.get(f"/v1/stores/{a}/stock/suggestions",
                          headers=auth(sqlite_settings, "user", "u")).status_code == 403


def test_without_history_nothing_is_suggested(sqlite_settings):
    with client_for(sqlite_settings) as client:
        (a, *_), _ = shop(sqlite_settings, client, stock=(0, 0, 0))
        [row] = client.get(f"/v1/stores/{a}/stock/suggestions",
                           headers=auth(sqlite_settings, "staff", "s", a)).json()
        assert (row["forecast_7d"], row["suggested_order"]) == (0.0, 0)
