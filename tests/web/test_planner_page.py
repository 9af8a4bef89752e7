"""The planner in a real browser: a district renders its cells (counted in the DOM and checked
against the API), what-if by clicking recomputes, and the export downloads valid GeoJSON."""

import json

import httpx

from tests.importer.test_import import lbs
from tests.live import live_server, token
from tests.service.test_nearby_api import seed
from tests.web.conftest import open_page, screenshot

DISTRICT = {"type": "FeatureCollection", "features": [{
    "type": "Feature", "properties": {"adcode": "320106", "name": "Gulou (test)"},
    "geometry": {"type": "Polygon", "coordinates": [[[118.81, 32.06], [118.86, 32.06], [118.86, 32.10],
                                                     [118.81, 32.10], [118.81, 32.06]]]}}]}  # at the stores' edge


def test_planner_cells_what_if_and_export(sqlite_settings, browser, tmp_path):
    seed(sqlite_settings, count=60)
    boundary = tmp_path / "district.geojson"
    boundary.write_text(json.dumps(DISTRICT), encoding="utf-8")
    assert lbs(sqlite_settings, "import", "boundaries", str(boundary)).returncode == 0
    operator = token(sqlite_settings, "operator", "planner")
    checker = {"Authorization": f"Bearer {token(sqlite_settings, 'operator', 'checker')}"}  # not the page's slots
    with live_server(sqlite_settings) as host:
        expected = httpx.get(f"http://{host}/v1/coverage", params={"district": "320106", "res": 9},
                             headers=checker).json()
        page = open_page(browser, host, f"/planner?token={operator}")
        page.wait_for_selector("body[data-map-ready=true]", timeout=10000)
        count = page.locator("[data-testid=cell-count]")
        count.filter(has_text=str(len(expected["features"]))).wait_for(timeout=10000)
        assert int(count.inner_text()) == len(expected["features"]) > 100
        assert 0 < expected["summary"]["covered"] < expected["summary"]["cells"]  # partly covered: room for a site
        stores_shown = page.locator("[data-testid=store-count]")
        for _ in range(50):  # the store layer fills in after the cells
            if stores_shown.inner_text() != "0":
                break
            page.wait_for_timeout(100)
        assert 0 < int(stores_shown.inner_text()) <= 60
        summary_before = page.inner_text("#summary")
        box = page.locator("#map").bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # a what-if outlet
        page.locator("#what-if li").first.wait_for(timeout=5000)
        for _ in range(50):
            if page.inner_text("#summary") not in (summary_before, "Computing…"):
                break
            page.wait_for_timeout(100)
        assert page.inner_text("#summary") != summary_before  # more cells covered with the candidate
        page.select_option("#res", "8")
        count.filter(has_text=str(len(httpx.get(f"http://{host}/v1/coverage", params={"district": "320106", "res": 8},
                                               headers=checker).json()["features"])))\
            .wait_for(timeout=10000)
        with page.expect_download() as download_info:
            page.click("[data-testid=export-geojson]")
        exported = json.loads(download_info.value.path().read_text())
        assert exported["type"] == "FeatureCollection" and exported["features"]
        assert all(f["geometry"]["type"] == "Polygon" for f in exported["features"])
        assert "OpenStreetMap contributors" in page.inner_text(".attribution")
        screenshot(page, "planner")
        assert page.foreign == []


def test_planner_filters_performance_layer_and_named_sites(sqlite_settings, browser, tmp_path):
    from datetime import timedelta

    from sqlalchemy import select

    from lbs_service.analytics.demand import DemandRecorder
    from lbs_service.storage.db import Database
    from lbs_service.storage.models import MemberEvent, Store
    from tests.clock import T0

    seed(sqlite_settings, count=60)
    boundary = tmp_path / "district.geojson"
    boundary.write_text(json.dumps(DISTRICT), encoding="utf-8")
    assert lbs(sqlite_settings, "import", "boundaries", str(boundary)).returncode == 0
    db = Database(sqlite_settings)
    with db.transaction() as session:
        stores = session.execute(select(Store.id, Store.lat, Store.lng).where(
            Store.lat.between(32.06, 32.10), Store.lng.between(118.81, 118.86))).all()
        for store_id, _, _ in stores:
            for n in range(6):
                session.add(MemberEvent(user_id=f"v{n}", store_id=store_id, kind="visit", data={},
                                        at=T0 - timedelta(days=2)))
    recorder = DemandRecorder(db, sqlite_settings.secret_key)
    for n in range(8):
        recorder.saw(f"d{n}", 32.095, 118.855, T0)  # people where there is no store
    recorder.flush()
    operator = token(sqlite_settings, "operator", "planner")
    checker = {"Authorization": f"Bearer {token(sqlite_settings, 'operator', 'checker')}"}
    with live_server(sqlite_settings) as host:
        page = open_page(browser, host, f"/planner?token={operator}")
        page.wait_for_selector("body[data-map-ready=true]", timeout=10000)
        page.locator("[data-testid=site]").first.wait_for(timeout=10000)
        assert "Gulou (test)" in page.inner_text("[data-testid=site] >> nth=0")  # named, not coordinates
        assert "would cover 8 more people" in page.inner_text("[data-testid=site] >> nth=0")
        kinds = page.eval_on_selector_all("[data-testid=category] option", "os => os.map(o => o.value)")
        merchants = page.eval_on_selector_all("[data-testid=merchant] option", "os => os.map(o => o.textContent)")
        assert kinds == ["", "cafe", "telecom_hall"] and merchants == ["all", "Test Merchant (60)"]
        page.select_option("[data-testid=category]", "cafe")
        cafes = httpx.get(f"http://{host}/v1/coverage", headers=checker,
                          params={"district": "320106", "res": 9, "category": "cafe"}).json()["summary"]
        page.locator("#summary").filter(has_text=f"{cafes['covered']} of {cafes['cells']} cells").wait_for(
            timeout=10000)
        page.select_option("[data-testid=theme]", "visits")
        page.wait_for_selector("body[data-performance]", timeout=10000)
        shown = int(page.locator("body").get_attribute("data-performance"))
        legend = page.inner_text("#legend")
        bbox = page.evaluate("document.body.dataset.performanceBbox")
        report = httpx.get(f"http://{host}/v1/reports/stores/performance", headers=checker,
                           params={"bbox": bbox, "category": "cafe"}).json()
        assert shown == len(report["stores"]) >= 1 and report["week"] == "2026-W47"
        total = sum(s["visits"] for s in report["stores"] if s["visits"] is not None)
        assert total > 0 and f"visits per outlet in week 2026-W47: {total} in all" in legend
        screenshot(page, "planner-performance")
        assert page.foreign == []
