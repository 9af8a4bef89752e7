"""`lbs bench nearby`: the in-memory index against exact PostGIS and Redis GEO on the same stores
and the same queries, checked against a brute-force scan."""

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from geo_index.sphere import great_circle_many_m
from lbs_bench.engines import Engine, MemoryEngine, PostgisEngine, RedisEngine
from lbs_bench.synthetic import clustered_points
from lbs_bench.timing import EngineResult, Measurement, machine, measure

log = logging.getLogger(__name__)
STORE_SEED, QUERY_SEED = 20_240_601, 7
ENGINES = ("memory", "postgis", "redis")


@dataclass(frozen=True)
class NearbyBenchConfig:
    stores: int = 1_000_000
    queries: int = 2_000
    runs: int = 3
    radius_m: float = 1_000.0
    exact_sample: int = 200
    database_url: str | None = None
    redis_url: str | None = None


def _exactness(engine: Engine, ids: np.ndarray, points: np.ndarray, queries: np.ndarray, radius: float) -> int:
    """How many sampled queries differ from brute force (same stores, same order, distances to 1 cm)."""
    wrong = 0
    for lat, lng in queries:
        got_ids, got_d = engine.query(float(lat), float(lng), radius)
        d = great_circle_many_m(float(lat), float(lng), points[:, 0], points[:, 1])
        inside = np.flatnonzero(d <= radius)
        order = inside[np.lexsort((ids[inside], d[inside]))]
        edge = set(ids[np.abs(d - radius) <= 1e-6].tolist())
        want = [i for i in ids[order].tolist() if i not in edge]
        have = [i for i in got_ids if i not in edge]
        close = all(abs(a - b) <= 0.01 for a, b in zip(got_d, d[order].tolist(), strict=False))
        wrong += have != want or not close
    return wrong


def _caller(engine: Engine, radius_m: float) -> Callable[[float, float], object]:
    return lambda lat, lng: engine.query(lat, lng, radius_m)


def _connect(config: NearbyBenchConfig) -> list[Engine]:
    engines: list[Engine] = [MemoryEngine()]
    for name, factory, url in (("postgis", PostgisEngine, config.database_url),
                               ("redis", RedisEngine, config.redis_url)):
        if not url:
            log.warning("%s: no URL given, left out of this run", name)
            continue
        try:
            engines.append(factory(url))
        except Exception as error:  # a competitor that is not running is reported, not fatal
            log.warning("%s unavailable (%s): left out of this run", name, error)
    return engines


def run_nearby(config: NearbyBenchConfig, say: Callable[[str], None] = print) -> dict[str, Any]:
    points = clustered_points(config.stores, STORE_SEED)
    ids = np.arange(1, config.stores + 1, dtype=np.int64)
    queries = clustered_points(config.queries, QUERY_SEED)
    engines = _connect(config)
    setup: dict[str, float] = {}
    for engine in engines:
        started = time.perf_counter()
        engine.load(ids, points)
        setup[engine.name] = time.perf_counter() - started
        say(f"{engine.name}: loaded {config.stores:,} stores in {setup[engine.name]:.1f} s")
    memory = engines[0]
    assert isinstance(memory, MemoryEngine)
    calls: dict[str, Callable[[float, float], object]] = {e.name: _caller(e, config.radius_m) for e in engines}
    calls["memory"] = lambda lat, lng: memory.query_arrays(lat, lng, config.radius_m)
    calls["memory+lists"] = lambda lat, lng: memory.query(lat, lng, config.radius_m)
    points_list = [(float(a), float(b)) for a, b in queries]  # plain floats: no numpy scalars on the wire
    warm = points_list[:200]
    runs: dict[str, list[Measurement]] = {name: [] for name in calls}
    for run in range(config.runs):
        for name, call in calls.items():
            measure(call, warm)  # warm caches and prepared statements
            runs[name].append(measure(call, points_list))
            say(f"run {run + 1}/{config.runs} {name}: {runs[name][-1].qps:,.0f} q/s")
    sample = queries[: config.exact_sample]
    results = []
    by_name = {e.name: e for e in engines}
    for name, measured in runs.items():
        engine = by_name.get(name, memory)
        wrong = _exactness(engine, ids, points, sample, config.radius_m)
        results.append(EngineResult.from_runs(name, config.stores, measured, wrong == 0, wrong, len(sample)))
    hits = [memory.index.nearby(float(a), float(b), config.radius_m).matched for a, b in queries]
    for engine in engines:
        engine.close()
    return {
        "benchmark": "nearby",
        "machine": machine(),
        "params": {**asdict(config), "database_url": bool(config.database_url), "redis_url": bool(config.redis_url)},
        "hits_within_radius": {"mean": float(np.mean(hits)), "p50": float(np.median(hits)),
                               "p99": float(np.percentile(hits, 99))},
        "setup_s": setup,
        "memory_bytes_per_store": memory.index.memory_bytes() / config.stores,
        # API.md: `results` holds one row per engine (memory, postgis, redis); other ways of calling ours go aside.
        "results": [asdict(r) for r in results if r.engine in ENGINES],
        "variants": [asdict(r) for r in results if r.engine not in ENGINES],
    }


def write_json(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2), encoding="utf-8")
