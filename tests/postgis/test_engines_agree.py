"""engine=memory and engine=postgis return exactly what a brute-force great-circle scan returns."""

import csv

import numpy as np
import pytest

from lbs_service.storage.db import Database
from lbs_service.storage.stores import StoreRepository
from tests.conftest import client_for, operator_headers
from tests.geo_index.test_radius_index import queries_near, world_stores
from tests.reference import brute_force, need_shared

pytestmark = pytest.mark.postgis


def load(settings, lats, lngs, merchant="World"):
    rows = [{"source_id": str(i), "name": f"S{i}", "category": "store", "hours": None, "timezone": "UTC",
             "status": "open", "attributes": {}, "lat": float(a), "lng": float(b), "address": None, "phone": None}
            for i, (a, b) in enumerate(zip(lats, lngs, strict=True))]
    StoreRepository(Database(settings)).upsert_many(merchant, rows)


def check_points(client, lats, lngs, points, radii):
    ids = np.arange(len(lats))
    for (lat, lng), radius in zip(points, radii, strict=True):
        params = {"lat": float(lat), "lng": float(lng), "radius_m": radius, "limit": 1000}
        memory = client.get("/v1/stores/nearby", params={**params, "engine": "memory"}).json()
        postgis = client.get("/v1/stores/nearby", params={**params, "engine": "postgis"},
                             headers=operator_headers(client.app.state.services.settings)).json()
        expected, dist, edge = brute_force(float(lat), float(lng), lats, lngs, ids, radius)
        expected, dist = expected[:1000], dist[:1000]
        for body in (memory, postgis):
            got = [int(f["properties"]["source_id"]) for f in body["features"]]
            assert [i for i in got if i not in edge] == [i for i in expected.tolist() if i not in edge], (lat, lng)
            for f, d in zip(body["features"], dist, strict=False):
                assert abs(f["properties"]["distance_m"] - d) <= 0.01
        assert [f["id"] for f in memory["features"]] == [f["id"] for f in postgis["features"]]
        assert memory["numberMatched"] == postgis["numberMatched"]
        for a, b in zip(memory["features"], postgis["features"], strict=True):
            assert abs(a["properties"]["distance_m"] - b["properties"]["distance_m"]) <= 0.01


def test_worldwide_file_500_points(pg_settings):
    rng = np.random.default_rng(11)
    pts = world_stores(rng, 20_000)
    load(pg_settings, pts[:, 0], pts[:, 1])
    points = queries_near(rng, pts, 500)
    radii = rng.choice([100.0, 1000.0, 1000.0, 5000.0, 50_000.0], len(points))
    with client_for(pg_settings) as client:
        check_points(client, pts[:, 0], pts[:, 1], points, radii)


def test_china_store_file_500_points(pg_settings):
    path = need_shared("stores_cn_starbucks_2024.csv")
    from geo_index.datum import gcj02_to_wgs84

    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    wgs = np.array([gcj02_to_wgs84(float(r["lat_gcj02"]), float(r["lon_gcj02"])) for r in rows])
    load(pg_settings, wgs[:, 0], wgs[:, 1], merchant="Starbucks")
    rng = np.random.default_rng(12)
    dense = wgs[rng.integers(0, len(wgs), 350)] + rng.normal(0, 0.01, (350, 2))
    countryside = np.column_stack((rng.uniform(20, 45, 150), rng.uniform(85, 125, 150)))
    points = np.concatenate((dense, countryside))
    radii = np.concatenate((rng.choice([500.0, 1000.0, 3000.0], 350), rng.choice([1000.0, 50_000.0], 150)))
    with client_for(pg_settings) as client:
        check_points(client, wgs[:, 0], wgs[:, 1], points, radii)


def test_the_anonymous_cross_check_is_bounded(pg_settings):
    """Anyone may ask engine=postgis (the contract's cross-check), but it cannot starve the database:
    a rate per client, one query of theirs at a time, two per worker, a statement timeout; operators only the
    timeout."""
    settings = pg_settings.model_copy(update={"rate_limit_rules": {"postgis": (3, 60)}})
    lats, lngs = np.array([32.05, 32.051]), np.array([118.78, 118.781])
    load(settings, lats, lngs)
    params = {"lat": 32.05, "lng": 118.78, "radius_m": 50_000, "open_now": "true", "engine": "postgis"}
    with client_for(settings) as client:
        services = client.app.state.services
        held = services.postgis_gate.reserve("ip:testclient")  # as if one of theirs were running
        busy = client.get("/v1/stores/nearby", params=params)
        assert busy.status_code == 429 and busy.headers["content-type"] == "application/problem+json"
        held.release()
        answers = [client.get("/v1/stores/nearby", params=params).status_code for _ in range(3)]
        assert answers == [200, 200, 429]  # three a minute, the one refused as busy included
        full = [services.postgis_gate.reserve(f"ip:10.0.0.{n}") for n in (1, 2)]  # the worker's two slots taken
        # operators (the cross-check, the benchmarks with many connections) pass the gate and the rate
        for _ in range(4):
            operator = client.get("/v1/stores/nearby", params=params, headers=operator_headers(settings))
            assert operator.status_code == 200 and operator.json()["numberReturned"] == 0  # no published hours
        for slot in full:
            slot.release()
        assert services.postgis_gate.running == 0
