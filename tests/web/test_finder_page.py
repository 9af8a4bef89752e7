"""The store finder in a real browser: tap the map, the list shows exactly what the API returns for
that point, a store's card offers a claim, and claiming shows the coupon's QR."""

from datetime import timedelta

import httpx

from lbs_service.storage.db import Database
from lbs_service.storage.models import Campaign
from tests.clock import T0
from tests.live import live_server, token
from tests.service.test_nearby_api import seed
from tests.web.conftest import open_page, screenshot


def test_tap_list_and_claim(sqlite_settings, browser):
    seed(sqlite_settings, count=200)
    now = T0
    with Database(sqlite_settings).transaction() as session:
        session.add(Campaign(title="Welcome gift", level="platform", starts_at=now - timedelta(hours=1),
                             ends_at=now + timedelta(days=1), per_user_limit=1, priority=0, claimed=0,
                             created_by="t"))
    with live_server(sqlite_settings) as host:
        page = open_page(browser, host, f"/?token={token(sqlite_settings, 'user', 'finder')}&lat=32.05&lng=118.78")
        page.wait_for_selector("body[data-map-ready=true]", timeout=10000)
        box = page.locator("#map").bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2 + 17, box["y"] + box["height"] / 2 - 11)  # tap the map
        page.wait_for_selector("[data-testid=store-item]", timeout=5000)
        point = page.locator("[data-testid=query-point]")
        lat, lng = float(point.get_attribute("data-lat")), float(point.get_attribute("data-lng"))
        expected = httpx.get(f"http://{host}/v1/stores/nearby",
                             params={"lat": lat, "lng": lng, "radius_m": 2000, "limit": 50}).json()
        shown = [item.get_attribute("data-store-id") for item in page.query_selector_all("[data-testid=store-item]")]
        assert shown == [f["id"] for f in expected["features"]] and shown
        assert "m" in page.inner_text("[data-testid=store-item] .meta")
        page.click("[data-testid=store-item] >> nth=0")
        page.click("[data-testid=claim]", timeout=5000)
        page.wait_for_selector("[data-testid=coupon-qr]", timeout=5000)
        page.locator("[data-testid=coupon-qr]").wait_for(state="visible")
        assert page.eval_on_selector("[data-testid=coupon-qr]", "img => img.naturalWidth") > 0
        screenshot(page, "finder-claimed")
        assert page.foreign == []
