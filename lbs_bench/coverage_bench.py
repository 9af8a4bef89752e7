"""`lbs bench coverage`: Beijing at H3 res 9 (nearest store and stores within 1 km of every cell
centre) with our store-centric pass, against the same question asked of PostGIS per cell (KNN for
the nearest store, ST_DWithin for the count), checked against a brute-force scan on a sample.

Uses the shared Beijing districts and the real China stores when present; otherwise a box of
Beijing's size and seeded stores, so the command runs anywhere.
"""

import csv
import json
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg
from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry

from geo_index.coverage import Coverage, CoverageGrids, bounds_of, cells_in
from geo_index.sphere import great_circle_many_m
from lbs_bench.synthetic import clustered_points
from lbs_bench.timing import machine

NEAR_M = 5_000.0


@dataclass(frozen=True)
class CoverageBenchConfig:
    resolution: int = 9
    radius_m: float = 1_000.0
    runs: int = 3
    exact_sample: int = 500
    database_url: str | None = None
    shared_data: Path | None = None


def _areas(shared: Path | None) -> tuple[list[BaseGeometry], str]:
    path = shared / "beijing_districts_wgs84.geojson" if shared else None
    if path and path.exists():
        features = json.loads(path.read_text(encoding="utf-8"))["features"]
        return [shape(f["geometry"]) for f in features], f"Beijing, {len(features)} districts (shared data)"
    return [box(115.7, 39.6, 117.1, 40.9)], "a Beijing-sized box (shared data absent)"


def _stores(shared: Path | None) -> tuple[npt.NDArray[np.float64], str]:
    path = shared / "stores_cn_starbucks_2024.csv" if shared else None
    if path and path.exists():
        from geo_index.datum import gcj02_to_wgs84

        with path.open(encoding="utf-8") as handle:
            points = [gcj02_to_wgs84(float(r["lat_gcj02"]), float(r["lon_gcj02"])) for r in csv.DictReader(handle)]
        return np.array(points), f"{len(points):,} real China stores (GCJ-02 converted)"
    return clustered_points(7_200, 3), "7,200 seeded stores"


def _brute_force_mismatches(result: Coverage, points: npt.NDArray[np.float64], radius_m: float,
                            sample: npt.NDArray[np.int64]) -> int:
    wrong = 0
    for i in sample.tolist():
        d = great_circle_many_m(float(result.lats[i]), float(result.lngs[i]), points[:, 0], points[:, 1])
        nearest = float(d.min())
        want_nearest = nearest if nearest <= NEAR_M else math.nan
        got = float(result.nearest_m[i])
        same_nearest = (math.isnan(got) and math.isnan(want_nearest)) or abs(got - want_nearest) <= 0.01
        wrong += not same_nearest or int((d <= radius_m).sum()) != int(result.stores_within[i])
    return wrong


def _postgis(url: str, result: Coverage, points: npt.NDArray[np.float64], radius_m: float) -> tuple[float, int]:
    """PostGIS asked the same per cell: seconds, and cells whose answer differs from ours by more than 1 cm."""
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as db:
        db.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        db.execute("DROP TABLE IF EXISTS lbs_bench_cov_stores, lbs_bench_cov_cells")
        db.execute("CREATE UNLOGGED TABLE lbs_bench_cov_stores (lat float8, lng float8, geog geography(Point, 4326) "
                   "GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lng, lat), 4326)::geography) STORED)")
        db.execute("CREATE UNLOGGED TABLE lbs_bench_cov_cells (i int PRIMARY KEY, lat float8, lng float8, "
                   "geog geography(Point, 4326) GENERATED ALWAYS AS "
                   "(ST_SetSRID(ST_MakePoint(lng, lat), 4326)::geography) STORED)")
        store_rows = "".join(f"{a!r}\t{b!r}\n" for a, b in points.tolist())
        cell_rows = "".join(f"{i}\t{a!r}\t{b!r}\n"
                            for i, (a, b) in enumerate(zip(result.lats.tolist(), result.lngs.tolist(), strict=True)))
        for statement, data in (("COPY lbs_bench_cov_stores (lat, lng) FROM STDIN", store_rows),
                                ("COPY lbs_bench_cov_cells (i, lat, lng) FROM STDIN", cell_rows)):
            with db.cursor() as cursor, cursor.copy(statement) as copy:
                copy.write(data)
        db.execute("CREATE INDEX ON lbs_bench_cov_stores USING gist (geog)")
        db.execute("ANALYZE lbs_bench_cov_stores")
        started = time.perf_counter()
        answers = db.execute(
            "SELECT c.i, (SELECT ST_Distance(s.geog, c.geog, false) FROM lbs_bench_cov_stores s "
            "             ORDER BY s.geog <-> c.geog LIMIT 1), "
            "       (SELECT count(*) FROM lbs_bench_cov_stores s WHERE ST_DWithin(s.geog, c.geog, %s, false)) "
            "FROM lbs_bench_cov_cells c ORDER BY c.i", (radius_m,)).fetchall()
        elapsed = time.perf_counter() - started
        db.execute("DROP TABLE lbs_bench_cov_stores, lbs_bench_cov_cells")
    wrong = 0
    for i, nearest, within in answers:
        ours = float(result.nearest_m[i])
        same = (math.isnan(ours) and nearest > NEAR_M) or abs(ours - nearest) <= 0.01
        wrong += not same or within != int(result.stores_within[i])
    return elapsed, wrong


def run_coverage(config: CoverageBenchConfig, say: Callable[[str], None] = print) -> dict[str, Any]:
    areas, area_note = _areas(config.shared_data)
    points, store_note = _stores(config.shared_data)
    timings: list[dict[str, float]] = []
    result: Coverage | None = None
    for run in range(config.runs):
        started = time.perf_counter()
        cells = cells_in(areas, config.resolution)
        polyfilled = time.perf_counter()
        bounds = bounds_of(areas).grown(NEAR_M)  # as the planner's endpoint does: priced, then measured
        grids = CoverageGrids(points[:, 0], points[:, 1], bounds, config.radius_m, NEAR_M,
                              CoverageGrids.sample_of(cells))
        parts = [grids.measure(cells[i : i + 10_000]) for i in range(0, len(cells), 10_000)]
        result = Coverage(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                            ("cells", "lats", "lngs", "nearest_m", "stores_within")))
        done = time.perf_counter()
        timings.append({"seconds": done - started, "polyfill_s": polyfilled - started, "coverage_s": done - polyfilled})
        say(f"run {run + 1}/{config.runs}: {len(cells):,} cells in {done - started:.1f} s")
    assert result is not None
    sample = np.random.default_rng(1).choice(len(result.cells), min(config.exact_sample, len(result.cells)),
                                             replace=False)
    wrong = _brute_force_mismatches(result, points, config.radius_m, sample)
    results = [{"engine": "memory (bucket grid with row prefix sums)",
                "seconds": statistics.median(t["seconds"] for t in timings),
                "polyfill_s": statistics.median(t["polyfill_s"] for t in timings),
                "coverage_s": statistics.median(t["coverage_s"] for t in timings),
                "exact": wrong == 0, "mismatched_cells": wrong, "checked_cells": len(sample), "runs": timings}]
    if config.database_url:
        say("postgis: the same per cell (KNN nearest + ST_DWithin count) ...")
        seconds, differing = _postgis(config.database_url, result, points, config.radius_m)
        results.append({"engine": "postgis (KNN + ST_DWithin per cell centre)", "seconds": seconds,
                        "differs_from_memory": differing, "checked_cells": len(result.cells)})
        say(f"postgis: {seconds:.1f} s, {differing} cells differ from ours")
    covered = int(result.covered.sum())
    return {"benchmark": "coverage", "machine": machine(),
            "params": {**{k: v for k, v in asdict(config).items() if k not in ("database_url", "shared_data")},
                       "area": area_note, "stores": store_note},
            "cells": len(result.cells), "covered_cells": covered, "results": results}
