"""`lbs bench`: each benchmark runs our engine and its competitors in the same run."""

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

bench_app = typer.Typer(help="Benchmarks against PostGIS and Redis, in the same run.", no_args_is_help=True,
                        add_completion=False, rich_markup_mode=None)
err = Console(stderr=True)


def _bench_urls(database_url: str | None, redis_url: str | None) -> tuple[str | None, str | None]:
    import os

    return (database_url or os.environ.get("LBS_BENCH_DATABASE_URL") or os.environ.get("LBS_DATABASE_URL"),
            redis_url or os.environ.get("LBS_BENCH_REDIS_URL") or os.environ.get("LBS_REDIS_URL"))


def _table(title: str, columns: tuple[str, ...]) -> Table:
    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="right")
    return table


def _save(report: dict[str, Any], path: Path | None) -> None:
    if path:
        from lbs_bench.nearby import write_json

        write_json(report, path)
        err.print(f"raw results: {path}")


def _need(url: str | None, what: str) -> str:
    if not url:
        err.print(f"[red]this benchmark needs {what}: give its URL (see --help)[/red]")
        raise typer.Exit(2)
    return url


@bench_app.command("nearby")
def bench_nearby(
    stores: Annotated[int, typer.Option(min=1000, help="stores to index (synthetic, clustered)")] = 1_000_000,
    queries: Annotated[int, typer.Option(min=100, help="queries per engine and run")] = 2_000,
    runs: Annotated[int, typer.Option(min=1, help="repetitions (medians are reported)")] = 3,
    radius_m: Annotated[float, typer.Option(help="the query radius")] = 1000.0,
    json_path: Annotated[Path | None, typer.Option("--json", help="write the raw results here")] = None,
    database_url: Annotated[str | None, typer.Option(help="PostGIS to compare with (default LBS_DATABASE_URL)")] = None,
    redis_url: Annotated[str | None, typer.Option(help="Redis to compare with (default LBS_REDIS_URL)")] = None,
) -> None:
    """In-memory index vs exact PostGIS vs Redis GEOSEARCH: same stores, same queries, same run."""
    import logging

    from lbs_bench.nearby import NearbyBenchConfig, run_nearby

    logging.basicConfig(level=logging.WARNING)
    db_url, r_url = _bench_urls(database_url, redis_url)
    config = NearbyBenchConfig(stores=stores, queries=queries, runs=runs, radius_m=radius_m, database_url=db_url,
                               redis_url=r_url)
    report = run_nearby(config, say=lambda text: err.print(text))
    results = report["results"]
    rates = {r["engine"]: r["qps"] for r in results}
    table = _table(f"nearby, {stores:,} stores, r = {radius_m:g} m, median of {runs} runs "
                   f"(mean {report['hits_within_radius']['mean']:.0f} stores within r)",
                   ("engine", "q/s", "p50 ms", "p99 ms", "exact", "× postgis", "× redis"))
    for r in [*results, *report["variants"]]:
        ratios = [f"{r['qps'] / rates[c]:.1f}" if c in rates else "-" for c in ("postgis", "redis")]
        exact = "yes" if r["exact"] else f"no ({r['mismatched_queries']}/{r['checked_queries']})"
        table.add_row(r["engine"], f"{r['qps']:,.0f}", f"{r['p50_ms']:.3f}", f"{r['p99_ms']:.3f}", exact, *ratios)
    Console().print(table)
    err.print(f"index memory: {report['memory_bytes_per_store']:.0f} bytes per store")
    _save(report, json_path)


@bench_app.command("push")
def bench_push(
    fences: Annotated[int, typer.Option(min=100, help="store fences (real China stores, then synthetic)")] = 25_000,
    users: Annotated[int, typer.Option(min=1, help="users walking at once, one socket each")] = 200,
    fixes_per_user: Annotated[int, typer.Option(min=1, help="fixes each user sends")] = 200,
    consoles: Annotated[int, typer.Option(min=1, help="store consoles listening")] = 300,
    rate: Annotated[float, typer.Option(min=0, help="target fixes/s over all users (0: as fast as possible)")] = 0.0,
    arrival_heavy: Annotated[bool, typer.Option(
        help="every fourth fix enters a watched store's fence, and an entry is an arrival")] = False,
    staff_alerts: Annotated[str, typer.Option(
        help="the servers' LBS_STAFF_ALERTS: all (a card per visit, timed) or intent")] = "all",
    json_path: Annotated[Path | None, typer.Option("--json", help="write the raw results here")] = None,
    database_url: Annotated[str | None, typer.Option(help="a PostGIS server (a scratch database is created)")] = None,
    redis_url: Annotated[str | None, typer.Option(help="Redis (keys under a prefix of the run's own)")] = None,
    shared_data: Annotated[Path, typer.Option(help="real data folder, used when present")] = Path("../shared/data"),
) -> None:
    """Fixes/s through user websockets across 2 server processes, fix-to-card latency, and every
    committed card counted (lost or shown twice)."""
    import tempfile

    from lbs_bench.push_load import PushBenchConfig, run_push

    db_url, r_url = _bench_urls(database_url, redis_url)
    if not db_url or not r_url:
        err.print("[red]lbs bench push needs PostGIS and Redis: --database-url and --redis-url[/red]")
        raise typer.Exit(2)
    if staff_alerts not in ("all", "intent"):
        err.print("--staff-alerts is all or intent")
        raise typer.Exit(2)
    config = PushBenchConfig(db_url, r_url, fences, users, fixes_per_user, consoles, rate,
                             shared_data if shared_data.exists() else None, arrival_heavy, staff_alerts)
    with tempfile.TemporaryDirectory() as folder:
        report = run_push(config, Path(folder), say=lambda text: err.print(text))
    kind = "arrival-heavy" if arrival_heavy else "walking"
    table = _table(f"push ({kind}): {fences:,} fences, {users} users over 2 server processes",
                   ("fixes", "offered/s", "taken/s", "cards timed", "p50 ms", "p99 ms", "p99 ms after 1 s", "committed",
                    "lost", "shown twice", "server CPU µs a fix (to delivery)", "client CPU µs a fix"))
    table.add_row(f"{report['fixes']:,}", f"{rate:,.0f}" if rate else "max", f"{report['fixes_per_s']:,.0f}",
                  str(report["alerts_timed"]), f"{report['alert_p50_ms']:.1f}", f"{report['alert_p99_ms']:.1f}",
                  f"{report['steady_alert_p99_ms']:.1f}", str(report["cards_committed"]), str(report["cards_lost"]),
                  str(report["cards_duplicated"]), f"{report['server_cpu_us_per_fix']:.0f}",
                  f"{report['client_cpu_us_per_fix']:.0f}")
    Console().print(table)
    _save(report, json_path)


@bench_app.command("cards")
def bench_cards(
    shared_data: Annotated[Path, typer.Option(help="real data folder (its geolife/ trajectories)")] = Path(
        "../shared/data"),
    json_path: Annotated[Path | None, typer.Option("--json", help="write the raw results here")] = None,
) -> None:
    """Staff cards from real movement: GeoLife trajectories on the demo city, before and after visits."""
    from lbs_bench.card_volume import run_cards

    geolife = shared_data / "geolife"
    if not geolife.is_dir():
        err.print(f"no GeoLife trajectories in {geolife}")
        raise typer.Exit(2)
    report = run_cards(geolife)
    table = _table(f"cards: {report['fixes']:,} GeoLife fixes ({report['person_hours']:,} person-hours) "
                   "on the demo stores", ("", "total", "per person-hour", "busiest store"))
    hours = report["person_hours"] or 1.0
    table.add_row("entries (one card each before visits)", f"{report['entries']:,}",
                  f"{report['entries_per_person_hour']:.1f}", str(report["busiest_store_entries"]))
    table.add_row("cards under all (approaching or arrived, one per visit)", f"{report['cards_all']:,}",
                  f"{report['cards_all_per_person_hour']:.1f}", str(report["busiest_store_cards_all"]))
    table.add_row("arrivals (arrived stage)", f"{report['arrived']:,}", f"{report['arrived'] / hours:.1f}", "")
    table.add_row("cards under intent: at most (offer caps)", f"{report['intent_bound']:,}",
                  f"{report['intent_bound'] / hours:.2f}", "")
    Console().print(table)
    _save(report, json_path)


@bench_app.command("ws")
def bench_ws(
    connections: Annotated[int, typer.Option(min=1, help="idle websockets to open")] = 20_000,
    json_path: Annotated[Path | None, typer.Option("--json", help="write the raw results here")] = None,
) -> None:
    """Idle user websockets on one server process, and its resident memory."""
    import tempfile

    from lbs_bench.ws_capacity import run_ws

    with tempfile.TemporaryDirectory() as folder:
        report = run_ws(connections, Path(folder), say=lambda text: err.print(text))
    table = _table("idle websockets on one server process",
                   ("connections", "opened in s", "RSS idle MB", "RSS loaded MB", "KB per connection"))
    table.add_row(f"{report['connections']:,}", f"{report['open_seconds']:.1f}", f"{report['server_rss_mb_idle']:.0f}",
                  f"{report['server_rss_mb_loaded']:.0f}", f"{report['kb_per_connection']:.1f}")
    Console().print(table)
    _save(report, json_path)


@bench_app.command("ws-floor")
def bench_ws_floor(
    rate: Annotated[float, typer.Option(min=1, help="messages/s offered over all sockets")] = 5_000.0,
    seconds: Annotated[float, typer.Option(min=0.5, max=600, help="how long each implementation is loaded")] = 8.0,
    connections: Annotated[int, typer.Option(min=1, max=5_000, help="websockets sending at once")] = 200,
    json_path: Annotated[Path | None, typer.Option("--json", help="write the raw results here")] = None,
) -> None:
    """Server CPU per websocket message on a bare endpoint under uvicorn (wsproto and websockets-sansio):
    the floor under every fix the user socket takes, measured with the push benchmark's messages."""
    from lbs_bench.ws_floor import WsFloorConfig, run_ws_floor

    report = run_ws_floor(WsFloorConfig(rate, seconds, connections), say=lambda text: err.print(text))
    table = _table(f"a bare websocket endpoint: {connections} sockets, {rate:,.0f} messages/s offered",
                   ("implementation", "messages/s", "server µs a message", "client µs a message", "all read"))
    for r in report["results"]:
        table.add_row(r["implementation"], f"{r['messages_per_s']:,.0f}", f"{r['server_us_per_message']:.1f}",
                      f"{r['client_us_per_message']:.1f}", "yes" if r["received"] == r["sent"] else "NO")
    Console().print(table)
    _save(report, json_path)


@bench_app.command("http")
def bench_http(
    stores: Annotated[int, typer.Option(min=1000, help="stores to index (synthetic, clustered)")] = 1_000_000,
    rate: Annotated[float, typer.Option(min=1, help="offered requests/s for the latency run")] = 2_000.0,
    runs: Annotated[int, typer.Option(min=1, help="repetitions (medians are reported)")] = 3,
    json_path: Annotated[Path | None, typer.Option("--json", help="write the raw results here")] = None,
    database_url: Annotated[str | None, typer.Option(help="a PostGIS server (a scratch database is created)")] = None,
    load: Annotated[str, typer.Option(help="closed-loop client: wrk, python, or auto (wrk when installed)")] = "auto",
) -> None:
    """GET /v1/stores/nearby over HTTP: engine=memory against engine=postgis through the same endpoint,
    and against a bare FastAPI endpoint with the same parameters (the framework's ceiling)."""
    import tempfile

    from lbs_bench.http_nearby import HttpBenchConfig, run_http

    db_url = _need(_bench_urls(database_url, None)[0], "PostGIS")
    if load not in ("auto", "wrk", "python"):
        raise typer.BadParameter("--load is wrk, python or auto")
    config = HttpBenchConfig(db_url, stores=stores, rate=rate, runs=runs, load=load)
    with tempfile.TemporaryDirectory() as folder:
        report = run_http(config, Path(folder), say=lambda text: err.print(text))
    table = _table(f"nearby over HTTP, {stores:,} stores, limit {config.limit}, median of {runs} runs",
                   ("engine", "req/s", "p50 ms", "p99 ms", "× postgis", f"p99 ms at {rate:,.0f}/s", "exact"))
    base = next(r["throughput"]["rps"] for r in report["results"] if r["engine"] == "postgis")
    for r in report["results"]:
        t, paced = r["throughput"], r["paced"]
        table.add_row(r["engine"], f"{t['rps']:,.0f}", f"{t['p50_ms']:.2f}", f"{t['p99_ms']:.2f}",
                      f"{t['rps'] / base:.1f}", f"{paced['p99_ms']:.2f}" if paced else "cannot carry it",
                      {True: "yes", None: "-"}.get(r["exact"], f"no ({r['mismatched_queries']})"))
    Console().print(table)
    err.print(f"engine=memory / bare FastAPI, same runs: median {report['memory_over_bare']['median']:.2f}×")
    _save(report, json_path)


@bench_app.command("coverage")
def bench_coverage(
    res: Annotated[int, typer.Option(min=7, max=9, help="H3 resolution of the cells")] = 9,
    runs: Annotated[int, typer.Option(min=1, help="repetitions (medians are reported)")] = 3,
    json_path: Annotated[Path | None, typer.Option("--json", help="write the raw results here")] = None,
    database_url: Annotated[str | None, typer.Option(help="PostGIS to compare with (default LBS_DATABASE_URL)")] = None,
    shared_data: Annotated[Path, typer.Option(help="real data folder, used when present")] = Path("../shared/data"),
) -> None:
    """Beijing coverage at H3 res 9: our store-centric pass against PostGIS per cell, checked by brute force."""
    from lbs_bench.coverage_bench import CoverageBenchConfig, run_coverage

    config = CoverageBenchConfig(resolution=res, runs=runs, database_url=_bench_urls(database_url, None)[0],
                                 shared_data=shared_data if shared_data.exists() else None)
    report = run_coverage(config, say=lambda text: err.print(text))
    table = _table(f"coverage: {report['params']['area']}, res {res}, {report['cells']:,} cells",
                   ("engine", "seconds", "agreement"))
    for r in report["results"]:
        agree = ("exact" if r["exact"] else f"{r['mismatched_cells']} differ") if "exact" in r else \
            f"{r['differs_from_memory']} cells differ from ours"
        table.add_row(r["engine"], f"{r['seconds']:.1f}", agree)
    Console().print(table)
    _save(report, json_path)


@bench_app.command("import")
def bench_import(
    rows: Annotated[int, typer.Option(min=100, help="rows to import")] = 25_000,
    runs: Annotated[int, typer.Option(min=1, help="repetitions (medians are reported)")] = 3,
    json_path: Annotated[Path | None, typer.Option("--json", help="write the raw results here")] = None,
    database_url: Annotated[str | None, typer.Option(help="a PostGIS server (a scratch database is created)")] = None,
) -> None:
    """Rows/s of `lbs import stores` into PostGIS, new and again, against a bare COPY of the same rows."""
    import tempfile

    from lbs_bench.import_bench import ImportBenchConfig, run_import

    config = ImportBenchConfig(_need(_bench_urls(database_url, None)[0], "PostGIS"), rows=rows, runs=runs)
    with tempfile.TemporaryDirectory() as folder:
        report = run_import(config, Path(folder), say=lambda text: err.print(text))
    table = _table(f"import of {rows:,} rows, median of {runs} runs", ("path", "rows/s"))
    for r in report["results"]:
        table.add_row(r["engine"], f"{r['rows_per_s']:,.0f}")
    Console().print(table)
    _save(report, json_path)


@bench_app.command("report")
def bench_report(
    results: Annotated[Path, typer.Option(help="folder of <benchmark>.json files")] = Path("bench-results"),
    page: Annotated[Path, typer.Option(help="the page to (re)generate")] = Path("docs/BENCHMARKS.md"),
) -> None:
    """Regenerate the results part of docs/BENCHMARKS.md (tables, machine, chart) from the JSON files."""
    from lbs_bench.report import write_page

    try:
        found = write_page(results, page)
    except FileNotFoundError as error:
        err.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    err.print(f"{page}: {', '.join(found)}")


@bench_app.command("all")
def bench_all(
    results: Annotated[Path, typer.Option(help="where the JSON files go")] = Path("bench-results"),
    page: Annotated[Path, typer.Option(help="the page regenerated at the end")] = Path("docs/BENCHMARKS.md"),
    quick: Annotated[bool, typer.Option(help="100k stores, fewer runs and fixes: minutes, not an hour")] = False,
    database_url: Annotated[str | None, typer.Option(help="PostGIS (default LBS_DATABASE_URL)")] = None,
    redis_url: Annotated[str | None, typer.Option(help="Redis (default LBS_REDIS_URL)")] = None,
) -> None:
    """Every benchmark with the issue's sizes, one JSON file each, then the results page."""
    import resource

    db_url, r_url = _bench_urls(database_url, redis_url)
    _need(db_url, "PostGIS")
    _need(r_url, "Redis")
    stores, runs = (100_000, 1) if quick else (1_000_000, 3)
    # The server needs a descriptor per socket plus its own; the hard limit caps what one process can hold.
    ws_connections = min(2_000 if quick else 20_000, resource.getrlimit(resource.RLIMIT_NOFILE)[1] - 1_000)
    shared = Path("../shared/data")
    bench_nearby(stores=stores, queries=2_000, runs=runs, radius_m=1000.0, json_path=results / "nearby.json",
                 database_url=db_url, redis_url=r_url)
    bench_http(stores=stores, rate=1_000.0, runs=runs, json_path=results / "http.json", database_url=db_url)
    bench_push(fences=25_000, users=200, fixes_per_user=50 if quick else 150, consoles=300, rate=2_000.0,
               json_path=results / "push.json", database_url=db_url, redis_url=r_url, shared_data=shared,
               arrival_heavy=False, staff_alerts="all")
    bench_push(fences=25_000, users=200, fixes_per_user=50 if quick else 150, consoles=300, rate=1_000.0,
               json_path=results / "push-arrival.json", database_url=db_url, redis_url=r_url, shared_data=shared,
               arrival_heavy=True, staff_alerts="all")
    if shared and (shared / "geolife").is_dir():
        bench_cards(shared_data=shared, json_path=results / "cards.json")
    bench_ws(connections=ws_connections, json_path=results / "ws.json")
    bench_ws_floor(rate=10_000.0, seconds=2.0 if quick else 8.0, connections=200, json_path=results / "ws-floor.json")
    bench_coverage(res=9, runs=runs, json_path=results / "coverage.json", database_url=db_url, shared_data=shared)
    bench_import(rows=25_000, runs=runs, json_path=results / "import.json", database_url=db_url)
    bench_report(results=results, page=page)
