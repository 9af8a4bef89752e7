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
