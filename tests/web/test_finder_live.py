"""Offers near me, in a real browser with a moving emulated geolocation: the switch records consent,
the walk towards a store brings its offer onto the page as a card to claim, the coupon claimed from it
puts a card on the store's console open beside it, and switching off withdraws consent and stops
the fixes."""

import httpx

from lbs_service.storage.db import Database
from lbs_service.storage.models import Campaign, Store
from tests.clock import T0
from tests.live import live_server, token
from tests.service.test_nearby_api import seed
from tests.web.conftest import open_page, screenshot

DEG_PER_M = 1 / 111_195  # a metre of latitude


def test_walk_brings_the_offer_and_the_card(sqlite_settings, browser):
    seed(sqlite_settings, count=5)
    db = Database(sqlite_settings)
    with db.session() as session:
        store = session.query(Store).filter(Store.source_id == "S1").one()  # seeded with hours: open on T0
        store_id, lat, lng = store.id, store.lat, store.lng
    with db.transaction() as session:
        session.add(Campaign(title="Free latte", level="store", store_ids=[store_id], starts_at=T0.replace(year=2025),
                             ends_at=T0.replace(year=2030), per_user_limit=1, priority=0, claimed=0, created_by="t"))
    user = token(sqlite_settings, "user", "walker")

    def here(metres_north: float) -> dict:
        return {"latitude": lat + metres_north * DEG_PER_M, "longitude": lng, "accuracy": 10}

    with live_server(sqlite_settings) as host:
        console = open_page(browser, host, f"/console?token={token(sqlite_settings, 'staff', 'till', store_id)}")
        console.wait_for_selector("[data-testid=connection][data-state=live]", timeout=5000)
        page = open_page(browser, host, f"/?token={user}&lat={lat}&lng={lng}", clock=T0,
                         geolocation=here(900), permissions=["geolocation"])
        switch = page.locator("[data-testid=offers-switch]")
        page.wait_for_selector("[data-testid=offers-switch]:not([disabled])", timeout=5000)
        assert not switch.is_checked()  # consent is asked for, never assumed
        switch.check()
        promotion = page.locator("[data-testid=promotion]")
        promotion.wait_for(timeout=5000)
        assert "Free latte" in promotion.inner_text()
        consent = httpx.get(f"http://{host}/v1/users/me/consent", headers={"Authorization": f"Bearer {user}"}).json()
        assert consent["location_marketing"] is True
        promotion.locator("[data-testid=claim]").click()
        promotion.locator("[data-testid=coupon-qr]").wait_for(timeout=5000)
        screenshot(page, "finder-promotion")

        card = console.locator("[data-testid=arrival-card]")
        for metres in range(850, -1, -50):  # a brisk walk to the door
            page.context.set_geolocation(here(metres))
            page.wait_for_timeout(150)
        card.wait_for(timeout=3000)
        console.wait_for_selector("[data-testid=arrival-card][data-stage=arrived]", timeout=3000)
        assert "Coupon: Free latte" in card.inner_text()
        screenshot(console, "console-beside-finder")

        promotion.locator("[data-testid=dismiss]").click()
        assert promotion.count() == 0
        switch.uncheck()
        page.wait_for_selector("[data-testid=offers-switch]:not([disabled])", timeout=5000)
        consent = httpx.get(f"http://{host}/v1/users/me/consent", headers={"Authorization": f"Bearer {user}"}).json()
        assert consent["location_marketing"] is False
        page.context.set_geolocation(here(600))  # switched off: this position is not sent
        page.wait_for_timeout(500)
        console.wait_for_selector("[data-testid=arrival-card][data-stage=arrived]", timeout=1000)
        assert page.foreign == [] and console.foreign == []
