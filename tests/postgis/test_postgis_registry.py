"""The registry on real PostGIS: geography column, GiST index, imports and the change feed."""

import os
import subprocess
import sys
import time

import pytest
from sqlalchemy import text

from lbs_service.storage.db import Database
from tests.conftest import client_for, operator_headers
from tests.reference import need_shared

pytestmark = pytest.mark.postgis


def test_schema_has_geography_with_gist_and_h3_btree(pg_settings):
    with Database(pg_settings).engine.connect() as connection:
        indexes = dict(connection.execute(text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'stores'")).all())
        column = connection.execute(text(
            "SELECT udt_name FROM information_schema.columns WHERE table_name='stores' AND column_name='geog'"
        )).scalar()
    assert column == "geography"
    assert "gist (geog)" in indexes["ix_stores_geog"]
    assert "btree (h3_r9)" in indexes["ix_stores_h3_r9"]


def test_real_china_file_imports_and_reaches_a_running_worker(pg_settings):
    source = need_shared("stores_cn_starbucks_2024.csv")
    with client_for(pg_settings) as client:
        env = {**os.environ, "LBS_DATABASE_URL": pg_settings.database_url}
        started = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "lbs_service.cli", "import", "stores", str(source), "--crs",
                              "gcj02", "--merchant", "Starbucks", "--default-category", "cafe"],
                             capture_output=True, text=True, env=env, timeout=300)
        elapsed = time.perf_counter() - started
        assert run.returncode == 0, run.stderr[-2000:]
        assert "7209" in run.stdout
        print(f"imported 7,209 real stores into PostGIS in {elapsed:.1f} s (including interpreter start)")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            ready = client.get("/readyz").json()
            if ready["checks"]["stores_indexed"] == 7209:
                break
            time.sleep(0.05)
        assert ready["checks"]["stores_indexed"] == 7209
        near = client.get("/v1/stores/nearby", params={"lat": 39.99, "lng": 116.33, "radius_m": 3000}).json()
        assert near["numberMatched"] > 0 and near["features"][0]["properties"]["category"] == "cafe"


def test_api_write_reaches_a_second_worker_on_postgis(pg_settings):
    store = {"source_id": "P-1", "name": "PG store", "lat": 31.23, "lng": 121.47}
    with client_for(pg_settings) as writer, client_for(pg_settings) as reader:
        created = writer.post("/v1/stores", json=store, headers=operator_headers(pg_settings)).json()
        deadline = time.monotonic() + 1.0
        seen = False
        while time.monotonic() < deadline and not seen:
            body = reader.get("/v1/stores/nearby", params={"lat": 31.23, "lng": 121.47, "radius_m": 10}).json()
            seen = [f["id"] for f in body["features"]] == [created["id"]]
            time.sleep(0.02)
        assert seen
        postgis = reader.get("/v1/stores/nearby", params={"lat": 31.23, "lng": 121.47, "engine": "postgis"},
                             headers=operator_headers(pg_settings)).json()
        assert [f["id"] for f in postgis["features"]] == [created["id"]]
