"""`lbs bench`: each benchmark runs our engine and its competitors in the same run."""

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

bench_app = typer.Typer(help="Benchmarks against PostGIS and Redis, in the same run.", no_args_is_help=True)
err = Console(stderr=True)


def _bench_urls(database_url: str | None, redis_url: str | None) -> tuple[str | None, str | None]:
    import os

    return (database_url or os.environ.get("LBS_BENCH_DATABASE_URL") or os.environ.get("LBS_DATABASE_URL"),
            redis_url or os.environ.get("LBS_BENCH_REDIS_URL") or os.environ.get("LBS_REDIS_URL"))


@bench_app.command("nearby")
def bench_nearby(
    stores: Annotated[int, typer.Option(min=1000)] = 1_000_000,
    queries: Annotated[int, typer.Option(min=100)] = 2_000,
    runs: Annotated[int, typer.Option(min=1)] = 3,
    radius_m: float = 1000.0,
    json_path: Annotated[Path | None, typer.Option("--json")] = None,
    database_url: Annotated[str | None, typer.Option(help="PostGIS to compare with (default LBS_DATABASE_URL)")] = None,
    redis_url: Annotated[str | None, typer.Option(help="Redis to compare with (default LBS_REDIS_URL)")] = None,
) -> None:
    """In-memory index vs exact PostGIS vs Redis GEOSEARCH: same stores, same queries, same run."""
    import logging

    from lbs_service.bench.nearby import NearbyBenchConfig, run_nearby, write_json

    logging.basicConfig(level=logging.WARNING)
    db_url, r_url = _bench_urls(database_url, redis_url)
    config = NearbyBenchConfig(stores=stores, queries=queries, runs=runs, radius_m=radius_m, database_url=db_url,
                               redis_url=r_url)
    report = run_nearby(config, say=lambda text: err.print(text))
    results = report["results"]
    rates = {r["engine"]: r["qps"] for r in results}
    table = Table(title=f"nearby, {stores:,} stores, r = {radius_m:g} m, median of {runs} runs "
                        f"(mean {report['hits_within_radius']['mean']:.0f} stores within r)")
    for column in ("engine", "q/s", "p50 ms", "p99 ms", "exact", "× postgis", "× redis"):
        table.add_column(column, justify="right")
    for r in results:
        ratios = [f"{r['qps'] / rates[c]:.1f}" if c in rates else "-" for c in ("postgis", "redis")]
        exact = "yes" if r["exact"] else f"no ({r['mismatched_queries']}/{r['checked_queries']})"
        table.add_row(r["engine"], f"{r['qps']:,.0f}", f"{r['p50_ms']:.3f}", f"{r['p99_ms']:.3f}", exact, *ratios)
    Console().print(table)
    err.print(f"index memory: {report['memory_bytes_per_store']:.0f} bytes per store")
    if json_path:
        write_json(report, json_path)
        err.print(f"raw results: {json_path}")


@bench_app.command("push")
def bench_push(
    fences: Annotated[int, typer.Option(min=100)] = 25_000,
    users: Annotated[int, typer.Option(min=1)] = 200,
    fixes_per_user: Annotated[int, typer.Option(min=1)] = 200,
    consoles: Annotated[int, typer.Option(min=1)] = 300,
    rate: Annotated[float, typer.Option(help="target fixes/s over all users (0: as fast as possible)")] = 0.0,
    json_path: Annotated[Path | None, typer.Option("--json")] = None,
    database_url: Annotated[str | None, typer.Option(help="a PostGIS server (a scratch database is created)")] = None,
    redis_url: Annotated[str | None, typer.Option(help="Redis (keys under a prefix of the run's own)")] = None,
    shared_data: Annotated[Path, typer.Option(help="real data folder, used when present")] = Path("../shared/data"),
) -> None:
    """Fixes/s through user websockets across 2 server processes, and fix-to-alert latency."""
    import tempfile

    from lbs_service.bench.nearby import write_json
    from lbs_service.bench.push import PushBenchConfig, run_push

    db_url, r_url = _bench_urls(database_url, redis_url)
    if not db_url or not r_url:
        err.print("[red]lbs bench push needs PostGIS and Redis: --database-url and --redis-url[/red]")
        raise typer.Exit(2)
    config = PushBenchConfig(db_url, r_url, fences, users, fixes_per_user, consoles, rate,
                             shared_data if shared_data.exists() else None)
    with tempfile.TemporaryDirectory() as folder:
        report = run_push(config, Path(folder), say=lambda text: err.print(text))
    table = Table(title=f"push: {fences:,} fences, {users} users over 2 server processes")
    for column in ("fixes", "fixes/s", "alerts timed", "alert p50 ms", "alert p99 ms"):
        table.add_column(column, justify="right")
    table.add_row(f"{report['fixes']:,}", f"{report['fixes_per_s']:,.0f}", str(report["alerts_timed"]),
                  f"{report['alert_p50_ms']:.1f}", f"{report['alert_p99_ms']:.1f}")
    Console().print(table)
    if json_path:
        write_json(report, json_path)


@bench_app.command("ws")
def bench_ws(
    connections: Annotated[int, typer.Option(min=1)] = 20_000,
    json_path: Annotated[Path | None, typer.Option("--json")] = None,
) -> None:
    """Idle user websockets on one server process, and its resident memory."""
    import tempfile

    from lbs_service.bench.nearby import write_json
    from lbs_service.bench.ws_capacity import run_ws

    with tempfile.TemporaryDirectory() as folder:
        report = run_ws(connections, Path(folder), say=lambda text: err.print(text))
    table = Table(title="idle websockets on one server process")
    for column in ("connections", "opened in s", "RSS idle MB", "RSS loaded MB", "KB per connection"):
        table.add_column(column, justify="right")
    table.add_row(f"{report['connections']:,}", f"{report['open_seconds']:.1f}", f"{report['server_rss_mb_idle']:.0f}",
                  f"{report['server_rss_mb_loaded']:.0f}", f"{report['kb_per_connection']:.1f}")
    Console().print(table)
    if json_path:
        write_json(report, json_path)
