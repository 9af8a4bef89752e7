"""The staff console in a real browser: a customer with a coupon walking towards the store gets a
card on every console of the store (approaching, then arrived, then left, updated in place); one
without intent only moves the anonymous demand gauge; an ack on one console shows on the other; a
card nobody answers is raised again; a reload replays without duplicates; staff answer a customer;
the pickup queue follows each order's status; a coupon is redeemed from the page."""

import json

import httpx
from websockets.sync.client import connect

from lbs_service.o2o.coupons import claim
from lbs_service.storage.db import Database
from lbs_service.storage.models import Campaign, Store
from tests.clock import T0, TIERS, at
from tests.live import live_server, token
from tests.service.test_nearby_api import seed
from tests.web.conftest import open_page, screenshot

DEG_PER_M = 1 / 111_195  # a metre of latitude


def walk(host: str, user: str, store: tuple[float, float], metres_north: list[float], start_s: float) -> list[dict]:
    """Fixes north of the store, one every two seconds from `start_s` after T0, on one socket;
    returns what the socket received."""
    with connect(f"ws://{host}/v1/ws/user?token={user}") as ws:
        return walk_on(ws, store, metres_north, start_s)


def walk_on(ws, store: tuple[float, float], metres_north: list[float], start_s: float) -> list[dict]:
    lat, lng = store
    received = []
    for n, metres in enumerate(metres_north):
        ws.send(json.dumps({"type": "location", "lat": lat + metres * DEG_PER_M, "lng": lng, "accuracy_m": 8,
                            "ts": at(start_s + 2 * n).isoformat()}))
    ws.send('{"type":"ping"}')
    while (message := json.loads(ws.recv(timeout=5))).get("type") != "pong":
        received.append(message)
    return received


def test_console_cards_gauge_ack_escalation_reply_and_queue(sqlite_settings, browser):
    settings = sqlite_settings.model_copy(update={"gauge_interval_s": 0.2, "alert_escalate_s": 1.5})
    seed(settings, count=5)
    db = Database(settings)
    with db.session() as session:
        store = session.query(Store).order_by(Store.id).first()
        store_id, where, merchant = store.id, (store.lat, store.lng), store.merchant_id
    with db.transaction() as session:
        campaign = Campaign(title="Free latte", level="store", store_ids=[store_id], starts_at=T0.replace(year=2025),
                            ends_at=T0.replace(year=2030), per_user_limit=1, priority=0, claimed=0, created_by="t")
        session.add(campaign)
        session.flush()
        campaign_id = campaign.id
    coupon = claim(db, campaign_id, "ana", T0, TIERS)
    claim(db, campaign_id, "ben", T0, TIERS)
    staff = token(settings, "staff", "till-1", store_id)
    with live_server(settings) as host:
        one = open_page(browser, host, f"/console?token={staff}")
        two = open_page(browser, host, f"/console?token={token(settings, 'staff', 'till-2', store_id)}")
        for page in (one, two):
            page.wait_for_selector("[data-testid=connection][data-state=live]", timeout=5000)
            assert "token=" not in page.url  # the credential leaves the address bar

        # Someone without intent walking by, app open: no card, only the gauge.
        with connect(f"ws://{host}/v1/ws/user?token={token(settings, 'user', 'cy')}") as cy:
            walk_on(cy, where, [600, 590, 580], start_s=1)
            one.wait_for_selector("[data-testid=demand]:has-text('1 near')", timeout=3000)
            assert one.query_selector("[data-testid=arrival-card]") is None

        # Ana, with a coupon, walks in: a card while she is on her way, then it follows her.
        walk(host, token(settings, "user", "ana"), where, [700, 690, 680], start_s=1)
        card = "[data-testid=arrival-card]"
        one.wait_for_selector(f"{card}[data-stage=approaching]", timeout=2000)
        two.wait_for_selector(f"{card}[data-stage=approaching]", timeout=2000)
        text = one.inner_text(card)
        assert "Coupon: Free latte" in text and "away" in text and "min out" in text
        assert str(round(where[0], 3)) not in text  # no position, ever
        screenshot(one, "console-approaching")
        walk(host, token(settings, "user", "ana"), where, [30], start_s=7)
        one.wait_for_selector(f"{card}[data-stage=arrived]", timeout=2000)
        assert "In the store now" in one.inner_text(card)
        alert_id = one.get_attribute(card, "data-alert-id")
        one.click(f"{card} [data-testid=ack]")
        two.wait_for_selector(f"{card}.acked[data-alert-id='{alert_id}']", timeout=2000)
        assert two.get_attribute(card, "data-acked-by") == "till-1"

        # An answer to her card reaches her socket (replayed from her stream).
        one.fill(f"{card} [data-testid=reply] input", "Your latte is ready")
        one.click(f"{card} [data-testid=reply] button")
        answer = None
        for _ in range(20):
            messages = walk(host, token(settings, "user", "ana") + "&last_id=0", where, [], start_s=9)
            answer = next((m for m in messages if m.get("type") == "staff_reply"), None)
            if answer:
                break
            one.wait_for_timeout(100)
        assert answer and answer["text"] == "Your latte is ready" and "user_ref" not in answer
        walk(host, token(settings, "user", "ana"), where, [400], start_s=11)
        one.wait_for_selector(f"{card}[data-stage=left]", timeout=2000)

        # Ben's card: nobody acknowledges it, so it is raised again.
        walk(host, token(settings, "user", "ben"), where, [700, 690, 680], start_s=1)
        two.locator(card).nth(1).wait_for(timeout=2000)
        ben_card = f"{card}:not([data-alert-id='{alert_id}'])"
        two.wait_for_selector(f"{ben_card}.escalated", timeout=4000)

        two.reload()
        two.wait_for_selector("[data-testid=connection][data-state=live]", timeout=5000)
        two.locator(card).nth(1).wait_for(timeout=3000)
        two.wait_for_timeout(500)
        ids = [c.get_attribute("data-alert-id") for c in two.query_selector_all(card)]
        assert len(ids) == 2 and len(set(ids)) == 2  # replayed, once each
        assert two.query_selector(f"{card}.acked[data-alert-id='{alert_id}']") is not None  # the ack replays too
        assert two.get_attribute(f"{card}[data-alert-id='{alert_id}']", "data-stage") == "left"

        # The pickup queue: paid -> ready (from the page) -> handed over (by code) -> gone, on both.
        order_id, pickup_code = place_paid_order(host, settings, store_id, merchant)
        item = f"[data-testid=order][data-order-id='{order_id}']"
        one.wait_for_selector(f"{item}[data-status=paid]", timeout=3000)
        assert "2 × USB-C cable" in one.inner_text(item)
        one.click(f"{item} [data-testid=mark-ready]")
        two.wait_for_selector(f"{item}[data-status=ready]", timeout=3000)
        assert two.query_selector(f"{item} [data-testid=mark-ready]") is None
        two.fill("#redeem-code", pickup_code)
        two.click("#redeem-form button")
        two.wait_for_selector("[data-testid=redeem-result][data-ok=true]", timeout=3000)
        one.wait_for_selector(item, state="detached", timeout=3000)
        one.reload()  # the queue as loaded when a console opens: nothing picked up shows as waiting
        one.wait_for_selector("[data-testid=connection][data-state=live]", timeout=5000)
        one.wait_for_timeout(500)
        assert one.query_selector(item) is None

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


def place_paid_order(host: str, settings, store_id: int, merchant_id: int) -> tuple[int, str]:
    base = f"http://{host}"
    operator = {"Authorization": f"Bearer {token(settings, 'operator', 'op')}"}
    staff = {"Authorization": f"Bearer {token(settings, 'staff', 's', store_id)}"}
    user = {"Authorization": f"Bearer {token(settings, 'user', 'dora')}"}
    sku = httpx.post(f"{base}/v1/skus", headers=operator,
                     json={"merchant_id": merchant_id, "code": "CABLE-C", "name": "USB-C cable", "price_cents": 1999})
    assert sku.status_code == 201, sku.text
    sku_id = sku.json()["id"]
    assert httpx.put(f"{base}/v1/stores/{store_id}/stock/{sku_id}", headers=staff,
                     json={"quantity": 5}).status_code == 200
    placed = httpx.post(f"{base}/v1/orders", headers=user,
                        json={"store_id": store_id, "lines": [{"sku_id": sku_id, "quantity": 2}]})
    assert placed.status_code == 201, placed.text
    paid = httpx.post(f"{base}/v1/payments/simulated/{placed.json()['payment']['ref']}/pay", headers=user)
    assert paid.json()["status"] == "paid", paid.text
    return placed.json()["id"], placed.json()["pickup_code"]
