"""The staff console in a real browser: a fix on a user websocket shows up as an arrival card
within 2 s on every console of the store, an ack on one shows on the other, a reload replays
without duplicates, and a coupon is redeemed from the page."""

import json

from websockets.sync.client import connect

from lbs_service.o2o.coupons import claim
from lbs_service.storage.db import Database
from lbs_service.storage.models import Campaign, Store
from tests.clock import T0
from tests.live import live_server, token
from tests.service.test_nearby_api import seed
from tests.web.conftest import open_page, screenshot


def send_fix(host, user, lat, lng):
    with connect(f"ws://{host}/v1/ws/user?token={user}") as ws:
        ws.send(json.dumps({"type": "location", "lat": lat, "lng": lng, "accuracy_m": 8,
                            "ts": T0.isoformat()}))
        ws.send('{"type":"ping"}')
        while json.loads(ws.recv(timeout=5)).get("type") != "pong":
            pass


def test_console_live_ack_reload_and_redeem(sqlite_settings, browser):
    settings = sqlite_settings.model_copy(update={"fence_dwell_s": 0.0})
    seed(settings, count=5)
    db = Database(settings)
    with db.session() as session:
        store = session.query(Store).order_by(Store.id).first()
        store_id, lat, lng = store.id, store.lat, store.lng
    now = T0
    with db.transaction() as session:
        campaign = Campaign(title="Free latte", level="store", store_ids=[store_id], starts_at=now.replace(year=2025),
                            ends_at=now.replace(year=2030), per_user_limit=1, priority=0, claimed=0, created_by="t")
        session.add(campaign)
        session.flush()
        campaign_id = campaign.id
    coupon = claim(db, campaign_id, "ana", T0)
    staff = token(settings, "staff", "till-1", store_id)
    with live_server(settings) as host:
        one = open_page(browser, host, f"/console?token={staff}")
        two = open_page(browser, host, f"/console?token={token(settings, 'staff', 'till-2', store_id)}")
        for page in (one, two):
            page.wait_for_selector("[data-testid=connection][data-state=live]", timeout=5000)
            assert "token=" not in page.url  # the credential leaves the address bar
        send_fix(host, token(settings, "user", "ana"), lat + 0.002, lng)
        card = "[data-testid=arrival-card]"
        one.wait_for_selector(card, timeout=2000)
        two.wait_for_selector(card, timeout=2000)
        alert_id = one.get_attribute(card, "data-alert-id")
        assert "Free latte" in one.inner_text(card) and "away" in one.inner_text(card)
        screenshot(one, "console-arrival")
        one.click(f"{card} [data-testid=ack]")
        two.wait_for_selector(f"{card}.acked[data-alert-id='{alert_id}']", timeout=2000)
        assert two.get_attribute(card, "data-acked-by") == "till-1"
        send_fix(host, token(settings, "user", "ben"), lat - 0.002, lng)
        two.locator(card).nth(1).wait_for(timeout=2000)  # (the page's CSP forbids eval, so no wait_for_function)
        two.reload()
        two.wait_for_selector("[data-testid=connection][data-state=live]", timeout=5000)
        two.locator(card).nth(1).wait_for(timeout=3000)
        two.wait_for_timeout(500)
        ids = [c.get_attribute("data-alert-id") for c in two.query_selector_all(card)]
        assert len(ids) == 2 and len(set(ids)) == 2  # replayed, once each
        assert two.query_selector(f"{card}.acked[data-alert-id='{alert_id}']") is not None  # the ack replays too
        one.fill("#redeem-code", coupon.code)
        one.click("#redeem-form button")
        one.wait_for_selector("[data-testid=redeem-result][data-ok]", timeout=3000)
        assert one.get_attribute("[data-testid=redeem-result]", "data-ok") == "true", (
            coupon.code, one.inner_text("[data-testid=redeem-result]"))
        assert "Free latte" in one.inner_text("[data-testid=redeem-result]")
        screenshot(two, "console-after-reload")
        assert one.foreign == [] and two.foreign == []  # the page asked nothing of any other host
        other = open_page(browser, host, f"/console?token={token(settings, 'user', 'mallory')}")
        other.wait_for_selector("#signin:not([hidden])", timeout=3000)
        screenshot(other, "console-signin")
