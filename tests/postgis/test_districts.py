"""Real district boundaries: import, which district a store stands in, and region campaigns."""

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from geoalchemy2 import Geometry
from sqlalchemy import cast, func, select

from lbs_service.storage.db import Database
from lbs_service.storage.models import Campaign, District, Store
from tests.clock import T0
from tests.conftest import client_for
from tests.reference import need_shared

pytestmark = pytest.mark.postgis


def lbs(settings, *args):
    env = {**os.environ, "LBS_DATABASE_URL": settings.database_url}
    return subprocess.run([sys.executable, "-m", "lbs_service.cli", *args], env=env, capture_output=True, text=True,
                          timeout=300)


def test_region_campaigns_follow_the_district_polygons(pg_settings, tmp_path):
    boundaries = need_shared("beijing_districts_wgs84.geojson")
    assert lbs(pg_settings, "import", "boundaries", str(boundaries)).returncode == 0
    stores = tmp_path / "stores.csv"
    # Haidian (Zhongguancun), Dongcheng (Wangfujing), and Daxing airport, which lies outside every district.
    stores.write_text("id,name,lat,lng\nhd,Haidian,39.9836,116.3160\ndc,Dongcheng,39.9149,116.4108\n"
                      "apt,Airport,39.5098,116.4105\n", encoding="utf-8")
    assert lbs(pg_settings, "import", "stores", str(stores), "--merchant", "M").returncode == 0
    with Database(pg_settings).engine.connect() as connection:  # through the models' GeoAlchemy2 columns
        inside = dict(connection.execute(select(Store.source_id, District.code).outerjoin(
            District, func.ST_Intersects(District.geom, cast(Store.geog, Geometry)))).all())
    assert inside == {"hd": "110108", "dc": "110101", "apt": None}  # PostGIS agrees with the memory index below
    now = T0
    with Database(pg_settings).transaction() as session:
        session.add(Campaign(title="Haidian week", level="region", district="110108",
                             starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=1), per_user_limit=1,
                             priority=0, claimed=0, created_by="t"))
    with client_for(pg_settings) as client:
        ids = {f["properties"]["source_id"]: f["id"] for f in client.get("/v1/stores/nearby", params={
            "lat": 39.8, "lng": 116.4, "radius_m": 50000, "limit": 10}).json()["features"]}
        titles = {name: [c["title"] for c in client.get("/v1/campaigns", params={"store_id": i}).json()]
                  for name, i in ids.items()}
    assert titles == {"hd": ["Haidian week"], "dc": [], "apt": []}


def test_bad_boundary_features_are_refused_with_reasons(pg_settings, tmp_path):
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type":"FeatureCollection","features":['
                   '{"type":"Feature","properties":{"adcode":"1"},"geometry":{"type":"Point","coordinates":[0,0]}},'
                   '{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}},'
                   '{"type":"Feature","properties":{"adcode":"3"},"geometry":{"type":"Polygon",'
                   '"coordinates":[[[0,0],[1,1],[1,0],[0,1],[0,0]]]}}]}', encoding="utf-8")
    run = lbs(pg_settings, "import", "boundaries", str(bad))
    assert run.returncode == 1
    assert "not a Polygon" in run.stderr and "no adcode" in run.stderr and "invalid geometry" in run.stderr
