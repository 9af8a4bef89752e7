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


def test_both_engines_find_the_same_words(pg_settings):
    """`q=` on both engines: the same stores, in the same order, the same numberMatched."""
    vocabulary = ["ＳＴＡＲ", "Coffee", "咖啡", "新街口", "CAFÉ", "straße", "Mobile", "移动", "Kiosk"]
    rng = np.random.default_rng(21)
    lats, lngs = rng.normal(32.05, 0.02, 2_000), rng.normal(118.78, 0.02, 2_000)
    rows = [{"source_id": str(i), "name": " ".join(rng.choice(vocabulary, 2)), "category": "store", "hours": None,
             "timezone": "UTC", "status": "open", "attributes": {}, "lat": float(a), "lng": float(b),
             "address": str(rng.choice(vocabulary)) if i % 3 else None, "phone": None}
            for i, (a, b) in enumerate(zip(lats, lngs, strict=True))]
    StoreRepository(Database(pg_settings)).upsert_many("Words", rows)
    queries = ["star", "café", "strasse", "移动 kiosk", "coffee 咖啡", "mobile", "nothing-like-this"]
    with client_for(pg_settings) as client:
        operator = operator_headers(client.app.state.services.settings)
        for n in range(60):
            params = {"lat": float(rng.normal(32.05, 0.02)), "lng": float(rng.normal(118.78, 0.02)),
                      "radius_m": float(rng.choice([500.0, 2000.0])), "limit": int(rng.choice([5, 1000])),
                      "q": queries[n % len(queries)]}
            memory = client.get("/v1/stores/nearby", params=params).json()
            postgis = client.get("/v1/stores/nearby", params={**params, "engine": "postgis"}, headers=operator).json()
            assert [f["id"] for f in memory["features"]] == [f["id"] for f in postgis["features"]], params
            assert memory["numberMatched"] == postgis["numberMatched"], params
            if params["q"] == "nothing-like-this":
                assert memory["numberMatched"] == 0


def test_both_engines_page_alike(pg_settings):
    """Following `next` on either engine lists the same stores, once each, as one large page does."""
    rng = np.random.default_rng(23)
    lats, lngs = rng.normal(32.05, 0.01, 600), rng.normal(118.78, 0.01, 600)
    lats[:20], lngs[:20] = 32.05, 118.78  # ties: equal distances, ordered by id
    load(pg_settings, lats, lngs, merchant="Pages")
    with client_for(pg_settings) as client:
        operator = operator_headers(client.app.state.services.settings)
        for engine in ("memory", "postgis"):
            base = {"lat": 32.05, "lng": 118.78, "radius_m": 900, "engine": engine}
            whole = client.get("/v1/stores/nearby", params={**base, "limit": 1000}, headers=operator).json()
            listed, body = [], client.get("/v1/stores/nearby", params={**base, "limit": 11}, headers=operator).json()
            listed += body["features"]
            while body.get("links"):
                body = client.get(body["links"][0]["href"], headers=operator).json()
                listed += body["features"]
            assert [f["id"] for f in listed] == [f["id"] for f in whole["features"]], engine
            assert len({f["id"] for f in listed}) == len(listed) == whole["numberMatched"] > 100
