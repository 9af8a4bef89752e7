"""`lbs bench http`: GET /v1/stores/nearby (limit 20) over HTTP, `engine=memory` against
`engine=postgis` through the same server, on one `lbs serve` process, and against the ceiling: a
bare FastAPI endpoint with the same parameters answering a fixed body of the same size
(bare_nearby.py, one plain uvicorn process). The load comes from this (third) process; the runs
alternate between the servers, so each comparison is made in one run, and within a run ours and the
ceiling alternate in slices (A B B A), so the machine's drift falls on both alike.

Throughput is measured closed loop, by wrk when it is installed (a compiled client: the Python
one spends a core of its own on this two-core machine and narrows the gap it measures), over
10,000 user points (2,000 fit every cache the server keeps and hid one that thrashed at
10,000); latency at a fixed offered rate (default 2,000 requests/s) is measured open loop
from each request's scheduled time, by the Python client (wrk cannot pace). A sample of answers is
checked against a brute-force great-circle scan: the first `limit` stores, their distances and
numberMatched.
"""

import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from geo_index.sphere import great_circle_many_m
from lbs_bench.http_load import LoadResult, alternating_closed_loops, closed_loop, open_loop
from lbs_bench.import_bench import write_store_file
from lbs_bench.nearby import QUERY_SEED, STORE_SEED
from lbs_bench.ports import free_port, stop
from lbs_bench.scratch import scratch
from lbs_bench.synthetic import clustered_points
from lbs_bench.timing import machine
from lbs_bench.wrk import WrkLoad, wrk_path

ENGINES = ("memory", "postgis")
BARE = "bare FastAPI (fixed body)"
TARGETS = (*ENGINES, BARE)
THROUGHPUT_SLICES = 4  # ours and the ceiling alternate this many times a run (A B B A)


@dataclass(frozen=True)
class HttpBenchConfig:
    database_url: str
    stores: int = 1_000_000
    limit: int = 20
    radius_m: float = 1_000.0
    rate: float = 2_000.0  # offered requests/s for the latency run
    paced_requests: int = 10_000
    throughput_requests: int = 20_000  # a few seconds a run for ours and for the ceiling
    concurrency: int = 8
    runs: int = 3
    exact_sample: int = 100
    scratch_name: str = "lbs_bench_http"  # the database this benchmark drops and creates
    query_points: int = 10_000
    load: str = "auto"  # the closed-loop client: wrk, python, or auto (wrk when installed)
    slice_s: float = 3.0  # wrk: seconds of each A B B A slice

    def closed_loop_client(self) -> str:
        return ("wrk" if wrk_path() else "python") if self.load == "auto" else self.load


def _load_stores(database: str, config: HttpBenchConfig, folder: Path, say: Callable[[str], None]) -> np.ndarray:
    """The seeded stores (the same ones `lbs bench nearby` uses), imported the way an operator would;
    returns the points in id order."""
    from geo_index import Datum
    from lbs_service.importer.normalize import ImportOptions
    from lbs_service.importer.run import import_stores
    from lbs_service.settings import Settings
    from lbs_service.storage.db import Database
    from lbs_service.storage.migrate import upgrade
    from lbs_service.storage.stores import StoreRepository

    upgrade(Settings(database_url=database))
    path = folder / "bench_http_stores.csv"
    points = clustered_points(config.stores, STORE_SEED)
    write_store_file(path, points)
    db = Database(Settings(database_url=database))
    started = time.perf_counter()
    import_stores(path, StoreRepository(db), "bench", ImportOptions(Datum.WGS84, "UTC", "store"), {})
    db.engine.dispose()
    say(f"imported {config.stores:,} stores in {time.perf_counter() - started:.1f} s")
    return points


@contextmanager
def _server(database: str, port: int) -> Iterator[None]:
    env = {**os.environ, "LBS_DATABASE_URL": database, "LBS_REDIS_URL": "", "LBS_RATE_LIMITS": "off"}
    command = [sys.executable, "-m", "lbs_service.cli", "serve", "--port", str(port), "--log-level", "warning"]
    with _process(command, env, f"http://127.0.0.1:{port}/readyz"):
        yield


@contextmanager
def _bare_server(port: int, body: Path) -> Iterator[None]:
    env = {**os.environ, "LBS_BENCH_BARE_BODY": str(body)}
    command = [sys.executable, "-m", "uvicorn", "lbs_bench.bare_nearby:app", "--port", str(port), "--log-level",
               "warning", "--no-access-log", "--no-server-header"]
    with _process(command, env, f"http://127.0.0.1:{port}/v1/stores/nearby?lat=0&lng=0"):
        yield


@contextmanager
def _process(command: list[str], env: dict[str, str], ready_url: str) -> Iterator[None]:
    process = subprocess.Popen(command, env=env)
    try:
        for _ in range(900):
            with suppress(httpx.HTTPError):
                if httpx.get(ready_url, timeout=2).status_code == 200:
                    break
            if process.poll() is not None:
                raise RuntimeError("the server exited while starting")
            time.sleep(0.2)
        else:
            raise RuntimeError("the server did not become ready")
        yield
    finally:
        stop(process)


def _operator() -> dict[str, str]:
    """engine=postgis is the operators' cross-check engine: every request of every engine carries an
    operator token (signed with the settings the server reads from this environment), so both pay
    the same authentication."""
    from lbs_service.auth import Principal, mint_token
    from lbs_service.settings import Settings

    return {"Authorization": f"Bearer {mint_token(Settings(), Principal('operator', 'bench', None))}"}


def _path(engine: str, lat: float, lng: float, config: HttpBenchConfig) -> str:
    return (f"/v1/stores/nearby?lat={lat!r}&lng={lng!r}&radius_m={config.radius_m:g}&limit={config.limit}"
            f"&engine={engine}")


def _mismatches(port: int, engine: str, queries: np.ndarray, points: np.ndarray, config: HttpBenchConfig) -> int:
    """Answers that differ from brute force: ids of the first `limit` (source ids map to seeded rows),
    distances to 1 cm, numberMatched. Stores within 1 µm of the radius may go either way."""
    wrong = 0
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30, headers=_operator()) as client:
        for lat, lng in queries.tolist():
            body = client.get(_path(engine, lat, lng, config)).json()
            d = great_circle_many_m(lat, lng, points[:, 0], points[:, 1])
            inside = np.flatnonzero(d <= config.radius_m)
            order = inside[np.lexsort((inside, d[inside]))][: config.limit]
            edge = int((np.abs(d - config.radius_m) <= 1e-6).sum())
            got_rows = [int(f["properties"]["source_id"][1:]) for f in body["features"]]
            got_d = [f["properties"]["distance_m"] for f in body["features"]]
            same = got_rows == order.tolist() and all(abs(a - b) <= 0.01 for a, b in zip(got_d, d[order], strict=False))
            wrong += (not same and not edge) or abs(body["numberMatched"] - len(inside)) > edge
    return wrong


def _run_loads(ports: dict[str, int], queries: np.ndarray, config: HttpBenchConfig, folder: Path,
               say: Callable[[str], None]) -> dict[str, dict[str, list[LoadResult]]]:
    points = queries.tolist()
    operator = _operator()
    measured: dict[str, dict[str, list[LoadResult]]] = {t: {"throughput": [], "paced": []} for t in TARGETS}
    paths = {engine: [_path(engine, lat, lng, config) for lat, lng in points] for engine in ENGINES}
    paths[BARE] = paths["memory"]  # the ceiling takes nearby's very requests and answers them with its fixed body

    def cycled(engine: str, count: int) -> list[str]:  # every point again, in the same order
        return (paths[engine] * (count // len(points) + 1))[:count]

    wrk = WrkLoad(folder, paths["memory"], operator) if config.closed_loop_client() == "wrk" else None

    for run in range(config.runs):
        for engine in TARGETS:
            # Steady state: the first query in an H3 cell proves and remembers its disk (about 0.1 ms, once
            # per cell and process), so every query point is visited once before anything is timed.
            warm = paths[engine] if run == 0 and engine != "postgis" else paths[engine][:300]
            asyncio.run(closed_loop("127.0.0.1", ports[engine], warm, config.concurrency, operator))
        # Ours and the ceiling take the same requests, in slices back to back (A B B A): measured one
        # after the other, the machine's drift between them moved the ratio by up to 0.3.
        against = {"memory": ports["memory"], BARE: ports[BARE]}
        if wrk is not None:
            results = _alternating_wrk(wrk, against, config)
        else:
            results = asyncio.run(alternating_closed_loops("127.0.0.1", against, cycled(
                "memory", config.throughput_requests), config.concurrency, THROUGHPUT_SLICES, operator))
        # PostGIS is two orders slower: a tenth of the requests.
        results["postgis"] = asyncio.run(closed_loop("127.0.0.1", ports["postgis"], cycled(
            "postgis", max(300, config.throughput_requests // 10)), config.concurrency, operator))
        for engine in TARGETS:
            result = results[engine]
            measured[engine]["throughput"].append(result)
            say(f"run {run + 1}/{config.runs} {engine}: {result.rps:,.0f} req/s closed loop "
                f"(p50 {result.p50_ms:.1f} ms, {result.errors} errors)")
        for engine in TARGETS:
            if results[engine].rps >= config.rate * 1.1:  # one that cannot carry the rate would only build a queue
                paced = asyncio.run(open_loop("127.0.0.1", ports[engine], (paths[engine] * 10)[: config.paced_requests],
                                              config.rate, config.concurrency * 4, operator))
                measured[engine]["paced"].append(paced)
                say(f"run {run + 1}/{config.runs} {engine}: at {config.rate:,.0f} req/s offered: "
                    f"p50 {paced.p50_ms:.2f} ms, p99 {paced.p99_ms:.2f} ms, {paced.errors} errors")
    return measured


def _alternating_wrk(wrk: WrkLoad, ports: dict[str, int], config: HttpBenchConfig) -> dict[str, LoadResult]:
    """wrk on two servers in A B B A slices; each server's slices add up to one result (its p50 the
    median of the slices', its p99 and worst the highest: percentiles of slices do not merge)."""
    first, second = ports
    slices: dict[str, list[LoadResult]] = {first: [], second: []}
    for k in range(THROUGHPUT_SLICES):
        for name in (first, second) if k % 2 == 0 else (second, first):
            slices[name].append(wrk.run("127.0.0.1", ports[name], config.concurrency, config.slice_s))
    combined = {}
    for name, parts in slices.items():
        requests, seconds = sum(p.requests for p in parts), sum(p.seconds for p in parts)
        combined[name] = LoadResult(requests, sum(p.errors for p in parts), seconds, requests / seconds,
                                    statistics.median(p.p50_ms for p in parts), max(p.p99_ms for p in parts),
                                    max(p.max_ms for p in parts))
    return combined


def _median(results: list[LoadResult]) -> dict[str, Any] | None:
    if not results:
        return None
    return {"rps": statistics.median(r.rps for r in results), "p50_ms": statistics.median(r.p50_ms for r in results),
            "p99_ms": statistics.median(r.p99_ms for r in results), "errors": sum(r.errors for r in results),
            "runs": [asdict(r) for r in results]}


def run_http(config: HttpBenchConfig, folder: Path, say: Callable[[str], None] = print) -> dict[str, Any]:
    queries = clustered_points(config.query_points, QUERY_SEED)
    port, bare_port = free_port(), free_port()
    with scratch(config.database_url, config.scratch_name) as database:
        points = _load_stores(database, config, folder, say)
        with _server(database, port):
            say("server up")
            wrong = {e: _mismatches(port, e, queries[: config.exact_sample], points, config) for e in ENGINES}
            body = folder / "bare_body.json"  # a real answer: the ceiling writes as many bytes as we do
            lat, lng = queries[0].tolist()
            body.write_bytes(httpx.get(f"http://127.0.0.1:{port}{_path('memory', lat, lng, config)}",
                                       headers=_operator(), timeout=30).content)
            with _bare_server(bare_port, body):
                say(f"bare FastAPI up (a fixed body of {body.stat().st_size:,} bytes)")
                measured = _run_loads({"memory": port, "postgis": port, BARE: bare_port}, queries, config, folder,
                                      say)
    results = []
    for engine in TARGETS:
        checked = engine in wrong  # the ceiling's fixed body answers nothing: there is nothing to check
        results.append({"engine": engine, "throughput": _median(measured[engine]["throughput"]),
                        "paced": _median(measured[engine]["paced"]),
                        "exact": wrong[engine] == 0 if checked else None, "mismatched_queries": wrong.get(engine),
                        "checked_queries": config.exact_sample if checked else 0})
    ratios = [ours.rps / bare.rps for ours, bare in zip(measured["memory"]["throughput"], measured[BARE]["throughput"],
                                                        strict=True)]
    return {"benchmark": "http", "machine": machine(),
            "params": {**{k: v for k, v in asdict(config).items() if k not in ("database_url", "scratch_name")},
                       "load": config.closed_loop_client()},
            "results": results,
            "memory_over_bare": {"median": statistics.median(ratios), "runs": ratios}}

