"""The benchmark harness on small inputs, against the real PostGIS and Redis: every engine answers,
our engine checks out exact against brute force, and the results page is generated from the JSON."""

import json
from pathlib import Path

import pytest

from lbs_bench.coverage_bench import CoverageBenchConfig, run_coverage
from lbs_bench.http_nearby import HttpBenchConfig, run_http
from lbs_bench.import_bench import ImportBenchConfig, run_import
from lbs_bench.nearby import NearbyBenchConfig, run_nearby, write_json
from lbs_bench.report import END, START, write_page
from lbs_bench.wrk import wrk_path
from tests.conftest import _service_url, need_installed

pytestmark = pytest.mark.postgis
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """Small real runs of four benchmarks, written as `lbs bench ... --json` writes them."""
    database, redis_url = _service_url("LBS_TEST_DATABASE_URL"), _service_url("LBS_TEST_REDIS_URL")
    folder = tmp_path_factory.mktemp("bench")
    write_json(run_nearby(NearbyBenchConfig(stores=5_000, queries=300, runs=1, exact_sample=100,
                                            database_url=database, redis_url=redis_url)), folder / "nearby.json")
    write_json(run_import(ImportBenchConfig(database, rows=400, runs=1, scratch_name="lbs_test_bench_import"),
                                 folder), folder / "import.json")
    write_json(run_coverage(CoverageBenchConfig(resolution=8, runs=1, exact_sample=200, database_url=database,
                                                shared_data=SHARED if SHARED.exists() else None)),
               folder / "coverage.json")
    write_json(run_http(HttpBenchConfig(database, stores=3_000, rate=200, paced_requests=400, throughput_requests=600,
                                        concurrency=4, runs=1, exact_sample=40, query_points=500, slice_s=1.0,
                                        scratch_name="lbs_test_bench_http"), folder), folder / "http.json")
    return folder


def _report(results: Path, name: str) -> dict:
    return json.loads((results / f"{name}.json").read_text())


def test_nearby_engines_all_answer_and_ours_is_exact(results):
    report = _report(results, "nearby")
    assert [r["engine"] for r in report["results"]] == ["memory", "postgis", "redis"]  # as API.md names them
    by_engine = {r["engine"]: r for r in [*report["results"], *report["variants"]]}
    assert set(by_engine) == {"memory", "memory+lists", "postgis", "redis"}
    assert by_engine["memory"]["exact"] and by_engine["memory+lists"]["exact"] and by_engine["postgis"]["exact"]
    assert all(r["qps"] > 0 and r["p99_ms"] >= r["p50_ms"] for r in by_engine.values())


def test_http_engines_agree_with_brute_force_without_errors(results):
    report = _report(results, "http")
    for r in report["results"]:
        assert r["exact"] is (None if r["engine"].startswith("bare") else True), r
        assert r["throughput"]["errors"] == 0 and r["throughput"]["rps"] > 0
    memory = next(r for r in report["results"] if r["engine"] == "memory")
    assert memory["paced"] is not None and memory["paced"]["errors"] == 0
    assert [r["engine"] for r in report["results"]] == ["memory", "postgis", "bare FastAPI (fixed body)"]
    assert len(report["memory_over_bare"]["runs"]) == report["params"]["runs"]
    need_installed(wrk_path(), "wrk")  # the closed loops above ran on wrk, as the benchmark runs them
    assert report["params"]["load"] == "wrk"
    assert report["memory_over_bare"]["median"] > 0


def test_import_and_coverage_runs_check_out(results):
    imported = {r["engine"]: r["rows_per_s"] for r in _report(results, "import")["results"]}
    assert imported["lbs import (new rows)"] > 0 and imported["postgis bare COPY + GiST"] > 0
    coverage = _report(results, "coverage")
    ours, postgis = coverage["results"]
    assert ours["exact"] and ours["checked_cells"] == 200
    assert postgis["differs_from_memory"] == 0 and postgis["checked_cells"] == coverage["cells"]


def test_results_page_is_generated_between_markers_with_a_chart(results, tmp_path):
    page = tmp_path / "BENCHMARKS.md"
    page.write_text(f"# Benchmarks\n\nHand-written intro.\n\n{START}\nstale\n{END}\n\n## What costs what\nkept\n")
    found = write_page(results, page)
    assert set(found) == {"nearby", "http", "coverage", "import"}
    write_page(results, page)  # regenerating replaces the block, it does not add another
    text = page.read_text()
    assert text.count(START) == 1 and "stale" not in text
    assert text.startswith("# Benchmarks\n\nHand-written intro.") and text.endswith("## What costs what\nkept\n")
    nearby = _report(results, "nearby")
    memory_qps = next(r["qps"] for r in nearby["results"] if r["engine"] == "memory")
    assert f"| memory | {memory_qps:,.0f} |" in text
    assert "### Nearby over HTTP" in text and "### Coverage" in text and "### Import" in text
    assert nearby["machine"]["cpu"] in text
    assert (tmp_path / "benchmarks.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
