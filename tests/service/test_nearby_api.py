"""GET /v1/stores/nearby and /v1/stores/{id} as API.md describes them, on the embedded default."""

import numpy as np
import pytest

from geo_index.datum import wgs84_to_gcj02
from lbs_service.storage.db import Database
from lbs_service.storage.stores import StoreRepository
from tests.conftest import operator_headers
from tests.reference import brute_force, math_haversine_m

BAD_QUERIES = [
    {"lat": "NaN"}, {"lat": "nan"}, {"lat": "inf"}, {"lng": "-inf"}, {"lat": "1e400"}, {"lat": "true"},
    {"lat": ""}, {"lat": "90.0001"}, {"lng": "-180.0001"}, {"radius_m": "0"}, {"radius_m": "50001"},
    {"radius_m": "nan"}, {"limit": "0"}, {"limit": "1001"}, {"limit": "2.5"}, {"crs": "epsg:3857"},
    {"engine": "oracle"}, {"open_now": "perhaps"}, {"category": ","},
]


def seed(settings, count=600, seed=1):
    rng = np.random.default_rng(seed)
    lats, lngs = rng.normal(32.05, 0.02, count), rng.normal(118.78, 0.02, count)
    rows = [{"source_id": f"S{i}", "name": f"Store {i}", "category": ("cafe", "telecom_hall")[i % 2],
             "hours": {"mon": [["00:00", "24:00"]]} if i % 3 else None, "timezone": "Asia/Shanghai",
             "status": "open", "attributes": {}, "lat": float(lats[i]), "lng": float(lngs[i]), "address": None,
             "phone": None} for i in range(count)]
    StoreRepository(Database(settings)).upsert_many("Test Merchant", rows)
    return rows


@pytest.fixture
def seeded(sqlite_settings):
    rows = seed(sqlite_settings)
    from tests.conftest import client_for

    with client_for(sqlite_settings) as client:
        yield client, rows


def test_nearby_is_geojson_sorted_and_exact(seeded):
    client, rows = seeded
    lats = np.array([r["lat"] for r in rows])
    lngs = np.array([r["lng"] for r in rows])
    source = np.array([int(r["source_id"][1:]) for r in rows])
    for lat, lng in [(32.05, 118.78), (32.06, 118.79), (32.0, 118.7)]:
        response = client.get("/v1/stores/nearby", params={"lat": lat, "lng": lng, "radius_m": 1500, "limit": 1000})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/geo+json")
        body = response.json()
        expected, _, _ = brute_force(lat, lng, lats, lngs, source, 1500)
        got = [int(f["properties"]["source_id"][1:]) for f in body["features"]]
        assert got == expected.tolist()
        assert body["numberMatched"] == body["numberReturned"] == len(expected)
        for f in body["features"]:
            flng, flat = f["geometry"]["coordinates"]
            assert isinstance(f["id"], str)
            assert abs(math_haversine_m(lat, lng, flat, flng) - f["properties"]["distance_m"]) <= 0.01
            assert {"name", "category", "source_id"} <= f["properties"].keys()


def test_limit_category_and_open_now(seeded):
    client, _ = seeded
    params = {"lat": 32.05, "lng": 118.78, "radius_m": 2000}
    everything = client.get("/v1/stores/nearby", params={**params, "limit": 1000}).json()
    limited = client.get("/v1/stores/nearby", params={**params, "limit": 3}).json()
    assert limited["numberReturned"] == 3 and limited["numberMatched"] == everything["numberMatched"]
    assert [f["id"] for f in limited["features"]] == [f["id"] for f in everything["features"][:3]]
    cafes = client.get("/v1/stores/nearby", params={**params, "limit": 1000, "category": "cafe"}).json()
    assert cafes["features"] and all(f["properties"]["category"] == "cafe" for f in cafes["features"])
    assert cafes["numberMatched"] == sum(f["properties"]["category"] == "cafe" for f in everything["features"])
    open_now = client.get("/v1/stores/nearby", params={**params, "limit": 1000, "open_now": "true"}).json()
    expected_open = [f["id"] for f in everything["features"] if f["properties"]["open_now"]]
    assert [f["id"] for f in open_now["features"]] == expected_open
    assert 0 < len(expected_open) < everything["numberMatched"]


def test_crs_gcj02_reads_and_writes_in_that_datum(seeded):
    client, _ = seeded
    wgs = client.get("/v1/stores/nearby", params={"lat": 32.05, "lng": 118.78, "limit": 5}).json()
    glat, glng = wgs84_to_gcj02(32.05, 118.78)
    gcj = client.get("/v1/stores/nearby", params={"lat": glat, "lng": glng, "limit": 5, "crs": "gcj02"}).json()
    assert [f["id"] for f in gcj["features"]] == [f["id"] for f in wgs["features"]]
    for a, b in zip(wgs["features"], gcj["features"], strict=True):
        assert abs(a["properties"]["distance_m"] - b["properties"]["distance_m"]) < 0.01
        expected = wgs84_to_gcj02(a["geometry"]["coordinates"][1], a["geometry"]["coordinates"][0])
        assert b["geometry"]["coordinates"] == pytest.approx([expected[1], expected[0]], abs=1e-9)


@pytest.mark.parametrize("bad", BAD_QUERIES, ids=[str(b) for b in BAD_QUERIES])
def test_bad_input_is_a_4xx_problem(seeded, bad):
    client, _ = seeded
    response = client.get("/v1/stores/nearby", params={"lat": 32.05, "lng": 118.78, **bad})
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == response.status_code and problem["title"] and problem["detail"]


def test_postgis_engine_is_refused_on_the_embedded_default(seeded):
    client, _ = seeded
    params = {"lat": 32.05, "lng": 118.78, "engine": "postgis"}
    for headers in ({}, operator_headers(client.app.state.services.settings)):
        response = client.get("/v1/stores/nearby", params=params, headers=headers)
        assert response.status_code == 422 and "PostGIS" in response.json()["detail"]


def test_store_details_and_unknown_ids(seeded):
    client, _ = seeded
    first = client.get("/v1/stores/nearby", params={"lat": 32.05, "lng": 118.78, "limit": 1}).json()["features"][0]
    detail = client.get(f"/v1/stores/{first['id']}")
    assert detail.status_code == 200 and detail.json()["id"] == first["id"]
    assert detail.json()["geometry"] == first["geometry"]
    assert client.get("/v1/stores/999999").status_code == 404
    assert client.get("/v1/stores/abc").status_code == 422
    assert client.get("/v1/stores/0").status_code == 422


def test_docs_render_without_a_cdn(sqlite_client):
    page = sqlite_client.get("/docs").text
    assert "cdn" not in page.lower() and "/static-offline-docs/swagger-ui-bundle.js" in page
    assert sqlite_client.get("/static-offline-docs/swagger-ui-bundle.js").status_code == 200
    assert sqlite_client.get("/openapi.json").json()["paths"]["/v1/stores/nearby"]


def test_health_and_readiness(sqlite_client):
    assert sqlite_client.get("/healthz").json() == {"status": "ok"}
    ready = sqlite_client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["checks"]["database"] is True


def test_a_store_removed_while_a_thread_reads_the_catalog_is_left_out_not_an_error(seeded):
    """Planner requests read the catalog from threads while the event loop applies changes: a store
    the index still had when it answered, gone from the records by the time they are read, is left
    out of that answer; the snapshot those readers iterate is a list of its own."""
    client, _ = seeded
    catalog = client.app.state.services.catalog
    found, _ = catalog.nearby(32.05, 118.78, 1_500, 5)
    gone = found[0][0].id
    snapshot = catalog.snapshot()
    record = catalog.records.pop(gone)  # as a change applied between the index's answer and the read
    try:
        after, _ = catalog.nearby(32.05, 118.78, 1_500, 5)
        assert [r.id for r, _ in after] == [r.id for r, _ in found[1:]]
        assert len(snapshot) == len(catalog.records) + 1  # the list taken before is not changed by it
    finally:
        catalog.records[gone] = record
