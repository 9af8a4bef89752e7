"""`lbs import stores` on files with the quirks real files have."""

import csv
import json
import os
import subprocess
import sys

import pytest

from geo_index.datum import wgs84_to_gcj02
from lbs_service.storage.db import Database
from lbs_service.storage.models import Store
from tests.reference import math_haversine_m

HEADER = ["Store No.", "Store Name", "Type", "Y", "X", "Notes"]
GOOD = [
    ["N1", "Plain store", "cafe", "32.0500", "118.7800", ""],
    ["N2", "Line\nbreak store", "telecom_hall", "32.0510", "118.7810", "has\ttab, and \"quotes\""],
    ["N3", "Third", "", "32.0520", "118.7820", "multi\nline\nnote"],
]
BAD = [
    (["N4", "Nowhere", "cafe", "0", "0", ""], "(0, 0)"),
    (["N1", "Duplicate", "cafe", "32.06", "118.79", ""], "duplicate id (first on line 2)"),
    (["N5", "Not a number", "cafe", "NaN", "118.79", ""], "finite"),
    (["N6", "No longitude", "cafe", "32.06", "", ""], "lng is missing"),
    (["N7", "Off the globe", "cafe", "95.0", "118.79", ""], "between -90 and 90"),
    (["N8", "Words", "cafe", "north", "118.79", ""], "not a number"),
    (["", "No id", "cafe", "32.06", "118.79", ""], "missing id"),
    (["N9", "", "cafe", "32.06", "118.79", ""], "missing name"),
]


def write_quirky_csv(path):
    with path.open("w", encoding="utf-8-sig", newline="") as handle:  # with a BOM
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for row in GOOD[:2]:
            writer.writerow(row)
        for row, _ in BAD:
            writer.writerow(row)
        writer.writerow(GOOD[2])


def lbs(settings, *args):
    env = {**os.environ, "LBS_SQLITE_PATH": str(settings.sqlite_path), "LBS_DATABASE_URL": settings.database_url}
    return subprocess.run([sys.executable, "-m", "lbs_service.cli", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def stored(settings):
    with Database(settings).session() as session:
        return {s.source_id: s for s in session.query(Store)}


COLUMNS = ["--id-col", "Store No.", "--lat-col", "Y", "--lng-col", "X", "--name-col", "Store Name",
           "--category-col", "Type", "--merchant", "Quirky"]


def test_quirky_csv_imports_every_good_row_and_explains_every_bad_one(sqlite_settings, tmp_path):
    source = tmp_path / "stores.csv"
    write_quirky_csv(source)
    run = lbs(sqlite_settings, "import", "stores", str(source), *COLUMNS)
    assert run.returncode == 1, run.stderr
    assert "inserted" in run.stdout and "3" in run.stdout
    stores = stored(sqlite_settings)
    assert sorted(stores) == ["N1", "N2", "N3"]
    assert stores["N2"].name == "Line\nbreak store"
    assert stores["N2"].attributes == {"Notes": 'has\ttab, and "quotes"'}
    assert stores["N3"].category == "store"  # the default when the file leaves it empty
    with (tmp_path / "stores.csv.rejects.csv").open(encoding="utf-8", newline="") as handle:
        rejects = list(csv.DictReader(handle))
    assert len(rejects) == len(BAD)
    for reject, (row, reason) in zip(rejects, BAD, strict=True):
        assert reject["source_id"] == row[0] and reason in reject["reason"], reject
    # Line numbers are where each record starts: N2's quoted newline pushes later rows down one line.
    assert [int(r["line"]) for r in rejects] == list(range(5, 5 + len(BAD)))


def test_reimport_is_idempotent(sqlite_settings, tmp_path):
    source = tmp_path / "stores.csv"
    write_quirky_csv(source)
    lbs(sqlite_settings, "import", "stores", str(source), *COLUMNS)
    first = {k: (s.id, s.lat, s.lng) for k, s in stored(sqlite_settings).items()}
    again = lbs(sqlite_settings, "import", "stores", str(source), *COLUMNS)
    assert again.returncode == 1
    assert {k: (s.id, s.lat, s.lng) for k, s in stored(sqlite_settings).items()} == first
    assert "0" in again.stdout.split("\n")[-3]  # inserted column of the summary row


def test_clean_file_exits_zero_and_clears_stale_rejects(sqlite_settings, tmp_path):
    source = tmp_path / "clean.csv"
    source.write_text("id,name,lat,lng\nC1,Clean,32.05,118.78\n", encoding="utf-8")
    (tmp_path / "clean.csv.rejects.csv").write_text("stale", encoding="utf-8")
    run = lbs(sqlite_settings, "import", "stores", str(source))
    assert run.returncode == 0, run.stderr
    assert not (tmp_path / "clean.csv.rejects.csv").exists()
    assert stored(sqlite_settings)["C1"].merchant_id


def test_gcj02_files_are_converted_to_wgs84(sqlite_settings, tmp_path):
    wgs = (39.99, 116.33)
    gcj = wgs84_to_gcj02(*wgs)
    source = tmp_path / "beijing.csv"
    source.write_text(f"id,name,lat_gcj02,lon_gcj02\nB1,Beijing,{gcj[0]!r},{gcj[1]!r}\n", encoding="utf-8")
    assert lbs(sqlite_settings, "import", "stores", str(source), "--crs", "gcj02").returncode == 0
    store = stored(sqlite_settings)["B1"]
    assert math_haversine_m(store.lat, store.lng, *wgs) < 0.001
    assert store.timezone == "Asia/Shanghai"


def test_geojson_import(sqlite_settings, tmp_path):
    features = [
        {"type": "Feature", "id": "G1", "geometry": {"type": "Point", "coordinates": [118.78, 32.05]},
         "properties": {"name": "Geo one", "category": "pharmacy"}},
        {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
         "properties": {"id": "G2", "name": "A line"}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [118.78, "x"]},
         "properties": {"id": "G3", "name": "Bad coordinate"}},
    ]
    source = tmp_path / "stores.geojson"
    source.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    run = lbs(sqlite_settings, "import", "stores", str(source))
    assert run.returncode == 1
    stores = stored(sqlite_settings)
    assert list(stores) == ["G1"] and stores["G1"].category == "pharmacy"
    rejects = (tmp_path / "stores.geojson.rejects.csv").read_text(encoding="utf-8")
    assert "G2" in rejects and "not a Point" in rejects and "G3" in rejects


@pytest.mark.parametrize("args", [["--crs", "mars"], ["--id-col", "nope"], ["--tz", "Nowhere/City"]])
def test_bad_options_are_refused_before_anything_is_written(sqlite_settings, tmp_path, args):
    source = tmp_path / "clean.csv"
    source.write_text("id,name,lat,lng\nC1,Clean,32.05,118.78\n", encoding="utf-8")
    run = lbs(sqlite_settings, "import", "stores", str(source), *args)
    assert run.returncode == 2
    assert stored(sqlite_settings) == {}


def test_several_workers_without_redis_are_refused(sqlite_settings):
    run = lbs(sqlite_settings, "serve", "--workers", "2")
    assert run.returncode == 2 and "LBS_REDIS_URL" in run.stderr


def test_demo_loads_a_city_with_campaigns_and_stock(sqlite_settings):
    from lbs_service.storage.models import Campaign, Game, GamePrize, Merchant, Stock, Store

    assert lbs(sqlite_settings, "demo").returncode == 0
    assert lbs(sqlite_settings, "demo").returncode == 0  # idempotent
    with Database(sqlite_settings).session() as session:
        # counted over the table (a count over the entity would select the PostGIS-only column on SQLite)
        assert session.query(Store.id).count() >= 2000 and session.query(Merchant).count() >= 2
        assert session.query(Campaign).count() == 6 and session.query(Stock).count() > 500
        assert session.query(Game).count() == 2 and session.query(GamePrize).count() == 3
        assert session.query(Campaign).filter(Campaign.points_price.is_not(None)).count() == 1
        pay_points = session.query(Store).filter(Store.category == "bill_payment").all()
        assert pay_points and all(s.attributes["utilities"] for s in pay_points)
        assert {s.category for s in session.query(Store)} >= {"cafe", "telecom_hall", "convenience"}
        from lbs_service.storage.models import DemandCell, District

        assert session.query(District.code).count() == 9 and session.query(DemandCell).count() > 1000


def test_demo_if_empty_never_touches_a_database_with_stores(sqlite_settings, tmp_path):
    from lbs_service.storage.models import Store

    rows = tmp_path / "real.csv"
    rows.write_text("id,name,lat,lng\nR-1,Real hall,32.05,118.78\n", encoding="utf-8")
    assert lbs(sqlite_settings, "import", "stores", str(rows), "--merchant", "Real").returncode == 0
    second = lbs(sqlite_settings, "demo", "--if-empty")
    assert second.returncode == 0 and "not loaded" in second.stderr
    with Database(sqlite_settings).session() as session:
        assert [s.name for s in session.query(Store)] == ["Real hall"]  # no demo store beside the real one


def test_the_demo_city_files_are_what_the_generator_writes_and_load_as_an_operators_would(sqlite_settings,
                                                                                           tmp_path):
    from lbs_service.demo import DEMO_DIRS, write_demo_files
    from lbs_service.storage.models import Store

    committed = DEMO_DIRS[0]
    write_demo_files(tmp_path / "demo")
    written = sorted(p.relative_to(tmp_path / "demo") for p in (tmp_path / "demo").rglob("*") if p.is_file())
    assert written == sorted(p.relative_to(committed) for p in committed.rglob("*") if p.is_file())
    for path in written:  # the files in data/demo are the generator's, byte for byte
        assert (committed / path).read_bytes() == (tmp_path / "demo" / path).read_bytes(), path
    # One merchant's file through `lbs import stores`, as the README tells an operator: the same stores.
    one = committed / "stores" / "Bean & Brew.csv"
    assert lbs(sqlite_settings, "import", "stores", str(one)).returncode == 0
    with Database(sqlite_settings).session() as session:
        stores = session.query(Store).all()
        assert len(stores) == sum(1 for _ in one.open(encoding="utf-8")) - 1
        assert {s.category for s in stores} == {"cafe"} and all(s.hours and s.address for s in stores)
