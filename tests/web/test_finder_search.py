"""Searching the finder as a person would, in Chromium: words in the search box (with suggestions from
the stores that match), a radius chosen from the list, every store within it page after page, the
best rated first, and "in stock" by a product's name from the catalogue - each list exactly what the
API answers. Every request to another host is refused."""

import httpx
from sqlalchemy import update

from lbs_service.storage.db import Database
from lbs_service.storage.models import Store
from tests.live import live_server
from tests.service.test_nearby_api import seed
from tests.service.test_orders import auth
from tests.web.conftest import open_page, screenshot

LAT, LNG = 32.05, 118.78


def _shown(page) -> list[str]:
    return [item.get_attribute("data-store-id") for item in page.query_selector_all("[data-testid=store-item]")]


def _tap_centre(page) -> None:
    page.wait_for_selector("body[data-map-ready=true]", timeout=10000)
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector("[data-testid=store-item]", timeout=5000)


def _point(page) -> tuple[float, float]:
    point = page.locator("[data-testid=query-point]")
    return float(point.get_attribute("data-lat")), float(point.get_attribute("data-lng"))


def _wait_for(page, expected: list[str]) -> None:
    for _ in range(100):
        if _shown(page) == expected:
            return
        page.wait_for_timeout(50)
    assert _shown(page) == expected


def test_search_radius_paging_sort_and_products_by_name(sqlite_settings, browser):
    rows = seed(sqlite_settings, count=300)
    nearest = sorted(rows, key=lambda r: (r["lat"] - LAT) ** 2 + (r["lng"] - LNG) ** 2)[:3]
    db = Database(sqlite_settings)
    with db.transaction() as session:  # the three nearest rated, the nearest worst
        for row, total, count in zip(nearest, (20, 9, 5), (5, 2, 1), strict=True):  # 4.0, 4.5, 5.0
            session.execute(update(Store).where(Store.source_id == row["source_id"]).values(
                rating_sum=total, rating_count=count))
    with live_server(sqlite_settings) as host:
        page = open_page(browser, host, f"/?lat={LAT}&lng={LNG}&zoom=14")
        _tap_centre(page)
        lat, lng = _point(page)

        def api(**params):
            return httpx.get(f"http://{host}/v1/stores/nearby",
                             params={"lat": lat, "lng": lng, "limit": 50, **params}).json()

        # A radius of the person's choosing.
        page.select_option("[data-testid=radius]", "5000")
        expected = api(radius_m=5000)
        _wait_for(page, [f["id"] for f in expected["features"]])
        assert f"{expected['numberMatched']} store(s) within 5.0 km" in page.inner_text("#status")

        # Every store within it, page after page, none twice.
        assert expected["numberMatched"] > 100
        page.click("[data-testid=more]")
        second = httpx.get(f"http://{host}{expected['links'][0]['href']}").json()
        _wait_for(page, [f["id"] for f in expected["features"] + second["features"]])

        # Words in the search box, with suggestions of matching stores.
        page.fill("[data-testid=search]", "telecom")
        page.wait_for_selector("#q-suggestions option", state="attached", timeout=5000)
        suggested = page.eval_on_selector_all("#q-suggestions option", "os => os.map(o => o.value)")
        halls = {r["name"] for r in rows if r["category"] == "telecom_hall"}
        assert suggested and set(suggested) <= halls
        page.press("[data-testid=search]", "Enter")
        words = api(radius_m=5000, q="telecom")
        _wait_for(page, [f["id"] for f in words["features"]])
        assert 'matching "telecom"' in page.inner_text("#status")

        # The best rated first, among those listed.
        page.fill("[data-testid=search]", "")
        page.press("[data-testid=search]", "Enter")
        _wait_for(page, [f["id"] for f in api(radius_m=5000)["features"]])
        page.select_option("[data-testid=sort]", "rating")
        listed = api(radius_m=5000)["features"]
        rated = [f for f in listed if f["properties"]["rating"]]
        assert rated  # at least one rated store is among those listed
        best_first = sorted(rated, key=lambda f: (-f["properties"]["rating"]["average"],
                                                  -f["properties"]["rating"]["count"]))
        best_first += [f for f in listed if not f["properties"]["rating"]]  # the rest, nearest first
        _wait_for(page, [f["id"] for f in best_first])
        screenshot(page, "finder-search")
        assert page.foreign == []


def test_in_stock_is_asked_by_a_products_name(sqlite_settings, browser):
    seed(sqlite_settings, count=3)
    with live_server(sqlite_settings) as host, httpx.Client(base_url=f"http://{host}") as client:
        features = client.get("/v1/stores/nearby", params={"lat": LAT, "lng": LNG, "radius_m": 50000}).json()
        for _ in range(100):
            if features["numberMatched"] == 3:
                break
            features = client.get("/v1/stores/nearby", params={"lat": LAT, "lng": LNG, "radius_m": 50000}).json()
        ids = [int(f["id"]) for f in features["features"]]
        merchant = features["features"][0]["properties"]["merchant_id"]
        sku = client.post("/v1/skus", headers=auth(sqlite_settings, "operator", "op"), json={
            "merchant_id": merchant, "code": "CABLE-C", "name": "USB-C cable", "price_cents": 1999}).json()
        client.put(f"/v1/stores/{ids[1]}/stock/{sku['id']}", json={"quantity": 4},
                   headers=auth(sqlite_settings, "staff", "s", ids[1]))
        page = open_page(browser, host, f"/?lat={LAT}&lng={LNG}&zoom=12")
        page.select_option("[data-testid=radius]", "10000")
        _tap_centre(page)
        page.fill("[data-testid=sku-name]", "usb")
        page.wait_for_selector("#sku-suggestions option", state="attached", timeout=5000)
        options = page.eval_on_selector_all("#sku-suggestions option", "os => os.map(o => o.value)")
        assert options == ["USB-C cable (CABLE-C) · Test Merchant"]  # a product is one merchant's
        page.fill("[data-testid=sku-name]", options[0])
        page.dispatch_event("[data-testid=sku-name]", "change")
        _wait_for(page, [str(ids[1])])
        assert "4 in stock" in page.inner_text("[data-testid=store-item]")
        # A name no product has: the last product no longer filters, and the page says so.
        page.fill("[data-testid=sku-name]", "aspirin")
        page.dispatch_event("[data-testid=sku-name]", "change")
        _wait_for(page, [str(i) for i in ids])
        page.locator("#status").filter(has_text='No product called "aspirin"').wait_for(timeout=5000)
        assert page.foreign == []


def test_a_late_answer_never_replaces_a_newer_one(sqlite_settings, browser):
    """The person changes the radius while an earlier answer is still on its way: the list, the count
    and the paging are those of the last question (answers held back and let go in the wrong order)."""
    seed(sqlite_settings, count=300)
    with live_server(sqlite_settings) as host:
        held: list = []

        def hold_wide_answers(page) -> None:
            def route(route):
                if "radius_m=1000&" in route.request.url:
                    held.append(route)  # the 1 km answer waits until the 10 km one has arrived
                else:
                    route.continue_()
            page.route("**/v1/stores/nearby?**", route)

        page = open_page(browser, host, f"/?lat={LAT}&lng={LNG}&zoom=14", listen=hold_wide_answers)
        _tap_centre(page)
        lat, lng = _point(page)
        page.select_option("[data-testid=radius]", "1000")
        for _ in range(100):
            if held:
                break
            page.wait_for_timeout(20)
        page.select_option("[data-testid=radius]", "10000")
        wide = httpx.get(f"http://{host}/v1/stores/nearby",
                         params={"lat": lat, "lng": lng, "radius_m": 10000, "limit": 50}).json()
        _wait_for(page, [f["id"] for f in wide["features"]])
        held[0].continue_()  # the stale 1 km answer arrives last
        page.wait_for_timeout(500)
        assert _shown(page) == [f["id"] for f in wide["features"]]
        assert f"{wide['numberMatched']} store(s) within 10.0 km" in page.inner_text("#status")
        assert page.locator("[data-testid=more]").is_visible() == (wide["numberMatched"] > 50)
