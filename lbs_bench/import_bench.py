"""`lbs bench import`: rows per second of `lbs import stores` into PostGIS, against a bare COPY of the
same rows into an indexed geography table (the floor: what PostgreSQL itself needs for the data).

The file is seeded and looks like an operator's export: ids, names, categories, addresses, phones,
opening hours and coordinates, clustered like real cities.
"""

import csv
import io
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg

from lbs_bench.scratch import scratch
from lbs_bench.synthetic import clustered_points
from lbs_bench.timing import machine

CATEGORIES = ("cafe", "convenience", "telecom", "bill_payment", "pharmacy", "bakery")
HOURS = (("07:00", "22:00"), ("08:00", "21:00"), ("00:00", "24:00"), ("10:00", "02:00"))


@dataclass(frozen=True)
class ImportBenchConfig:
    database_url: str
    rows: int = 25_000
    runs: int = 3
    seed: int = 11
    scratch_name: str = "lbs_bench_import"  # the database this benchmark drops and creates


def write_store_file(path: Path, points: npt.NDArray[np.float64]) -> None:
    """Row n is store S<n> at points[n]."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "name", "category", "address", "phone", "open", "close", "lat", "lng"])
        for n, (lat, lng) in enumerate(points.tolist()):
            opens, closes = HOURS[n % len(HOURS)]
            writer.writerow([f"S{n:07d}", f"Outlet {n}", CATEGORIES[n % len(CATEGORIES)], f"{n % 997} Example Road",
                             f"+86 10 {n:08d}", opens, closes, repr(lat), repr(lng)])  # exact: answers are checked


def _import_once(database: str, path: Path) -> tuple[float, int, int]:
    """One `lbs import stores` as the command runs it, minus the interpreter start: (seconds, inserted, updated)."""
    from geo_index import Datum
    from lbs_service.importer.normalize import ImportOptions
    from lbs_service.importer.run import import_stores
    from lbs_service.settings import Settings
    from lbs_service.storage.db import Database
    from lbs_service.storage.stores import StoreRepository

    db = Database(Settings(database_url=database))
    try:
        started = time.perf_counter()
        options = ImportOptions(Datum.WGS84, "Asia/Shanghai", "store")
        summary = import_stores(path, StoreRepository(db), "bench", options, {})
        elapsed = time.perf_counter() - started
    finally:
        db.engine.dispose()
    if summary.rejected:
        raise RuntimeError(f"the seeded file had {len(summary.rejected)} rejected rows")
    return elapsed, summary.inserted, summary.updated


def _bare_copy(database: str, path: Path) -> float:
    """COPY of the same coordinates and names into a geography table with a GiST index: PostgreSQL's floor."""
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    buffer = io.StringIO()
    for row in rows:
        buffer.write(f"{row['id']}\t{row['name']}\t{row['lat']}\t{row['lng']}\n")
    with psycopg.connect(database, autocommit=True) as db:
        db.execute("DROP TABLE IF EXISTS lbs_bench_copy")
        started = time.perf_counter()
        db.execute("CREATE TABLE lbs_bench_copy (id text PRIMARY KEY, name text, lat float8, lng float8, "
                   "geog geography(Point, 4326) GENERATED ALWAYS AS "
                   "(ST_SetSRID(ST_MakePoint(lng, lat), 4326)::geography) STORED)")
        db.execute("CREATE INDEX ON lbs_bench_copy USING gist (geog)")
        with db.cursor() as cursor, cursor.copy("COPY lbs_bench_copy (id, name, lat, lng) FROM STDIN") as copy:
            copy.write(buffer.getvalue())
        elapsed = time.perf_counter() - started
        db.execute("DROP TABLE lbs_bench_copy")
    return elapsed


def run_import(config: ImportBenchConfig, folder: Path, say: Callable[[str], None] = print) -> dict[str, Any]:
    from lbs_service.settings import Settings
    from lbs_service.storage.migrate import upgrade

    path = folder / "bench_import_stores.csv"
    write_store_file(path, clustered_points(config.rows, config.seed))
    fresh, again, floor = [], [], []
    for run in range(config.runs):
        with scratch(config.database_url, config.scratch_name) as database:
            upgrade(Settings(database_url=database))
            seconds, inserted, _ = _import_once(database, path)
            fresh.append(config.rows / seconds)
            seconds_again, _, updated = _import_once(database, path)  # the same file again: every row an update
            again.append(config.rows / seconds_again)
            floor.append(config.rows / _bare_copy(database, path))
        if inserted != config.rows or updated != config.rows:
            raise RuntimeError(f"expected {config.rows} inserts and updates, got {inserted} and {updated}")
        say(f"run {run + 1}/{config.runs}: import {fresh[-1]:,.0f} rows/s, re-import {again[-1]:,.0f} rows/s, "
            f"bare COPY {floor[-1]:,.0f} rows/s")
    results = [
        {"engine": "lbs import (new rows)", "rows_per_s": statistics.median(fresh), "runs": fresh},
        {"engine": "lbs import (same file again: updates)", "rows_per_s": statistics.median(again), "runs": again},
        {"engine": "postgis bare COPY + GiST", "rows_per_s": statistics.median(floor), "runs": floor},
    ]
    return {"benchmark": "import", "machine": machine(),
            "params": {k: v for k, v in asdict(config).items() if k not in ("database_url", "scratch_name")},
            "results": results}
