"""Coverage cells for planners: exact against brute force, demand counted in distinct users and
suppressed below k, nothing finer than a res-9 cell stored."""

import json
import math

import numpy as np
from h3.api import basic_int as h3i

from lbs_service.analytics.demand import DemandRecorder
from lbs_service.storage.db import Database
from lbs_service.storage.models import DemandCell
from tests.clock import T0
from tests.conftest import client_for
from tests.reference import haversine_m
from tests.service.test_nearby_api import seed

BBOX = "118.74,32.02,118.82,32.08"


def auth(settings, role, subject):
    from tests.live import token

    return {"Authorization": f"Bearer {token(settings, role, subject)}"}


def test_cells_match_brute_force(sqlite_settings):
    rows = seed(sqlite_settings, count=300)
    lats, lngs = np.array([r["lat"] for r in rows]), np.array([r["lng"] for r in rows])
    with client_for(sqlite_settings) as client:
        body = client.get("/v1/coverage", params={"bbox": BBOX, "res": 8, "radius_m": 800},
                          headers=auth(sqlite_settings, "operator", "op"))
        assert body.status_code == 200 and body.headers["content-type"].startswith("application/geo+json")
        features = body.json()["features"]
    assert len(features) > 20
    for f in features:
        lat, lng = h3i.cell_to_latlng(h3i.str_to_int(f["properties"]["cell"]))
        d = haversine_m(lat, lng, lats, lngs)
        assert f["properties"]["stores_within"] == int((d <= 800).sum())
        assert f["properties"]["covered"] == bool((d <= 800).any())
        nearest = f["properties"]["nearest_m"]
        assert (nearest is None and d.min() > 4000) or abs(nearest - d.min()) < 0.1
        ring = f["geometry"]["coordinates"][0]
        assert f["geometry"]["type"] == "Polygon" and ring[0] == ring[-1]


def test_demand_is_distinct_users_and_small_counts_are_suppressed(sqlite_settings):
    seed(sqlite_settings, count=50)
    db = Database(sqlite_settings)
    recorder = DemandRecorder(db, sqlite_settings.secret_key)
    now = T0
    busy, quiet = (32.05, 118.78), (32.03, 118.76)
    for n in range(7):
        for _ in range(3):  # the same user seen three times counts once
            recorder.saw(f"user-{n}", *busy, now)
    for n in range(3):
        recorder.saw(f"user-{n}", *quiet, now)
    assert recorder.flush() == 10
    with db.session() as session:
        stored = session.query(DemandCell).all()
    assert {len(r.user_hash) for r in stored} == {16} and all("user" not in r.user_hash for r in stored)
    assert {r.cell9 for r in stored} == {h3i.latlng_to_cell(*busy, 9), h3i.latlng_to_cell(*quiet, 9)}
    with client_for(sqlite_settings) as client:
        body = client.get("/v1/coverage", params={"bbox": BBOX, "res": 9},
                          headers=auth(sqlite_settings, "operator", "op")).json()
    demand = {f["properties"]["cell"]: f["properties"]["demand"] for f in body["features"]}
    assert demand[h3i.int_to_str(h3i.latlng_to_cell(*busy, 9))] == 7
    assert demand[h3i.int_to_str(h3i.latlng_to_cell(*quiet, 9))] is None  # 3 users < k = 5


def test_a_users_hash_is_remembered_bounded_and_forgotten_on_erasure(sqlite_settings, monkeypatch):
    from lbs_service.analytics import demand

    recorder = DemandRecorder(Database(sqlite_settings), sqlite_settings.secret_key)
    other = DemandRecorder(Database(sqlite_settings), sqlite_settings.secret_key)
    first = recorder.user_hash("user-1")
    assert recorder.user_hash("user-1") == first == other.user_hash("user-1")  # the memo changes no answer
    assert recorder.user_hash("user-2") != first
    monkeypatch.setattr(demand, "_MAX_HASHES", 3)
    for n in range(10):
        recorder.user_hash(f"many-{n}")
        assert len(recorder._hashes) <= 3
    recorder.user_hash("user-1")
    recorder.forget("user-1")
    assert "user-1" not in recorder._hashes
    assert recorder.user_hash("user-1", remember=False) == first  # an erasure's own lookups leave nothing
    assert "user-1" not in recorder._hashes


def test_an_erasure_leaves_no_hash_of_the_user_in_memory(sqlite_settings):
    from lbs_service.privacy import delete_location_rows

    db = Database(sqlite_settings)
    recorder = DemandRecorder(db, sqlite_settings.secret_key)
    recorder.saw("leaver", 32.05, 118.78, T0)
    recorder.flush()
    deleted, _ = delete_location_rows(db, recorder, "leaver")
    assert deleted["demand_cells"] == 1 and "leaver" not in recorder._hashes


def test_a_signed_in_search_that_finds_nothing_is_demand(sqlite_settings):
    with client_for(sqlite_settings) as client:
        for n in range(5):
            found = client.get("/v1/stores/nearby", params={"lat": 32.2, "lng": 118.9, "radius_m": 100},
                               headers=auth(sqlite_settings, "user", f"searcher-{n}")).json()
            assert found["numberMatched"] == 0
        client.get("/v1/stores/nearby", params={"lat": 32.2, "lng": 118.9})  # anonymous: not counted
        client.app.state.services.demand.flush()
        body = client.get("/v1/coverage", params={"bbox": "118.88,32.18,118.92,32.22", "res": 9},
                          headers=auth(sqlite_settings, "operator", "op")).json()
    demand = {f["properties"]["cell"]: f["properties"]["demand"] for f in body["features"]}
    assert demand[h3i.int_to_str(h3i.latlng_to_cell(32.2, 118.9, 9))] == 5


def test_exports_and_refusals(sqlite_settings, tmp_path):
    seed(sqlite_settings, count=50)
    boundary = tmp_path / "d.geojson"
    boundary.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"adcode": "320106", "name": "Test district"},
        "geometry": {"type": "Polygon", "coordinates": [[[118.76, 32.04], [118.80, 32.04], [118.80, 32.06],
                                                         [118.76, 32.06], [118.76, 32.04]]]}}]}), encoding="utf-8")
    from tests.importer.test_import import lbs

    assert lbs(sqlite_settings, "import", "boundaries", str(boundary)).returncode == 0
    with client_for(sqlite_settings) as client:
        op = auth(sqlite_settings, "operator", "op")
        csv_body = client.get("/v1/coverage", params={"district": "320106", "format": "csv"}, headers=op)
        assert csv_body.headers["content-type"].startswith("text/csv")
        assert csv_body.text.splitlines()[0] == "cell,lat,lng,nearest_m,stores_within,covered,demand"
        assert len(csv_body.text.splitlines()) > 50
        for params in ({}, {"district": "320106", "bbox": BBOX}, {"bbox": "1,2,3"}, {"bbox": "nan,0,1,1"},
                       {"bbox": "0,0,60,60"}, {"bbox": BBOX, "res": 7}, {"bbox": BBOX, "radius_m": 0}):
            assert 400 <= client.get("/v1/coverage", params=params, headers=op).status_code < 500
        assert client.get("/v1/coverage", params={"district": "999999"}, headers=op).status_code == 404
        assert client.get("/v1/coverage", params={"bbox": BBOX}, headers=auth(sqlite_settings, "user", "u"))\
            .status_code == 403
    out = tmp_path / "cov.geojson"
    run = lbs(sqlite_settings, "coverage", "--district", "320106", "--geojson", str(out))
    assert run.returncode == 0 and "cells at res 9" in run.stderr
    assert json.loads(out.read_text())["features"] and not math.isnan(len(out.read_text()))


def test_gaps_suggestions_and_what_if(sqlite_settings):
    seed(sqlite_settings, count=100)  # stores around (32.05, 118.78), sd ~2 km
    db = Database(sqlite_settings)
    recorder = DemandRecorder(db, sqlite_settings.secret_key)
    now = T0
    unserved = (32.12, 118.86)  # ~10 km north-east: no store near
    for n in range(8):
        recorder.saw(f"fan-{n}", *unserved, now)
    recorder.flush()
    params = {"bbox": "118.70,32.00,118.90,32.15", "res": 8, "radius_m": 1000, "suggest": 3}
    with client_for(sqlite_settings) as client:
        op = auth(sqlite_settings, "operator", "op")
        before = client.get("/v1/coverage/gaps", params=params, headers=op).json()
        gap = before["gaps"][0]
        assert gap["cell"] == h3i.int_to_str(h3i.latlng_to_cell(*unserved, 8)) and gap["demand"] == 8
        assert before["demand"] == {"total": 8, "covered": 0, "uncovered": 8}
        site = before["suggestions"][0]
        assert site["gained_demand"] == 8 and len(before["suggestions"]) == 1  # nothing else to gain
        what_if = client.get("/v1/coverage/gaps", params={**params, "add": f"{site['lat']},{site['lng']}"},
                             headers=op).json()
        assert what_if["demand"] == {"total": 8, "covered": 8, "uncovered": 0} and what_if["gaps"] == []
        assert client.get("/v1/coverage/gaps", params={**params, "add": "91,0"}, headers=op).status_code == 422
