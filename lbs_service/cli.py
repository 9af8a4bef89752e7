"""The `lbs` command: serve, migrate, import, demo data, tokens, benchmarks."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from geo_index import Datum, parse_datum

if TYPE_CHECKING:
    from lbs_service.settings import Settings

app = typer.Typer(help="LBS O2O service: store finder and proximity push.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
import_app = typer.Typer(help="Import data files.", no_args_is_help=True)
token_app = typer.Typer(help="Print signed bearer tokens.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(import_app, name="import")
app.add_typer(token_app, name="token")
report_app = typer.Typer(help="Reports for operators and merchants.", no_args_is_help=True)
app.add_typer(report_app, name="report")
err = Console(stderr=True)


def _settings() -> "Settings":  # imported late: `lbs --help` stays fast
    from lbs_service.settings import get_settings

    return get_settings()


def log_config(level: str) -> dict[str, Any]:
    """Uvicorn's logging plus our loggers (the access log among them), one line per record."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = {**LOGGING_CONFIG, "loggers": dict(LOGGING_CONFIG["loggers"])}
    config["filters"] = {"no_query": {"()": "lbs_service.access_log.DropQueryStrings"}}
    config["handlers"] = {name: {**handler, "filters": ["no_query"]} for name, handler in
                          LOGGING_CONFIG["handlers"].items()}
    config["loggers"]["lbs"] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    config["loggers"]["lbs_service"] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    return config


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64)] = 1,
    log_level: str = "info",
) -> None:
    """Run HTTP and websockets; --workers N runs N processes sharing the database (and Redis)."""
    import uvicorn

    settings = _settings()
    if workers > 1 and not settings.redis_url:
        err.print("[red]--workers > 1 needs LBS_REDIS_URL: the in-process broker cannot carry a push from one "
                  "process to another[/red]")
        raise typer.Exit(2)
    # access_log=False: uvicorn would log query strings, which carry users' coordinates (see access_log.py).
    uvicorn.run(
        "lbs_service.asgi:app",
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        log_config=log_config(log_level),
        access_log=False,
        ws=settings.ws_impl,
        ws_ping_interval=20.0,  # protocol pings: a dead peer is dropped within ping interval + timeout
        ws_ping_timeout=20.0,
        ws_max_size=65536,  # a larger frame closes the socket with 1009
        proxy_headers=False,
        server_header=False,
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema (the PostGIS extension included)."""
    from lbs_service.storage.migrate import upgrade

    settings = _settings()
    upgrade(settings)
    err.print(f"schema is up to date on {'PostgreSQL' if settings.is_postgres else settings.sqlite_path}")


@import_app.command("stores")
def import_stores(
    path: Path,
    crs: Annotated[str, typer.Option(help="datum of the file: wgs84, gcj02 or bd09")] = "wgs84",
    id_col: Annotated[str | None, typer.Option("--id-col")] = None,
    lat_col: Annotated[str | None, typer.Option("--lat-col")] = None,
    lng_col: Annotated[str | None, typer.Option("--lng-col")] = None,
    name_col: Annotated[str | None, typer.Option("--name-col")] = None,
    category_col: Annotated[str | None, typer.Option("--category-col")] = None,
    merchant: Annotated[str | None, typer.Option(help="owner of the stores (default: the file's name)")] = None,
    default_category: Annotated[str, typer.Option(help="category when the file has none")] = "store",
    tz: Annotated[
        str | None, typer.Option(help="stores' time zone (default: Asia/Shanghai for gcj02/bd09, else UTC)")
    ] = None,
) -> None:
    """Upsert stores from a CSV or GeoJSON file; bad rows go to PATH.rejects.csv (exit 1 if any)."""
    from lbs_service.hours import HoursError, parse_timezone
    from lbs_service.importer.normalize import ImportOptions
    from lbs_service.importer.run import import_stores as run_import
    from lbs_service.storage.db import Database
    from lbs_service.storage.stores import StoreRepository

    try:
        datum = parse_datum(crs)
        zone = tz or ("Asia/Shanghai" if datum in (Datum.GCJ02, Datum.BD09) else "UTC")
        parse_timezone(zone)
    except (ValueError, HoursError) as error:
        err.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    if not path.is_file():
        err.print(f"[red]no such file: {path}[/red]")
        raise typer.Exit(2)
    options = ImportOptions(crs=datum, timezone=zone, default_category=default_category)
    columns = {"id": id_col, "lat": lat_col, "lng": lng_col, "name": name_col, "category": category_col}
    db = Database(_settings())
    with Progress(
        TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err, transient=False
    ) as progress:
        task = progress.add_task("import", total=None)
        try:
            summary = run_import(
                path,
                StoreRepository(db),
                merchant or path.stem,
                options,
                columns,
                lambda done, total: progress.update(task, completed=done, total=total),
            )
        except ValueError as error:
            err.print(f"[red]{error}[/red]")
            raise typer.Exit(2) from None
    table = Table(title=f"import of {path.name}")
    for column in ("rows read", "inserted", "updated", "rejected"):
        table.add_column(column, justify="right")
    table.add_row(str(summary.read), str(summary.inserted), str(summary.updated), str(len(summary.rejected)))
    Console().print(table)
    if summary.rejected:
        reasons: dict[str, int] = {}
        for r in summary.rejected:
            reasons[r.reason.split(" (")[0]] = reasons.get(r.reason.split(" (")[0], 0) + 1
        for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1])[:10]:
            err.print(f"  {count:>6} × {reason}")
        err.print(f"rejected rows with reasons: {summary.rejects_path}")
        raise typer.Exit(1)


@import_app.command("boundaries")
def import_boundaries(
    path: Path,
    code_field: Annotated[str, typer.Option(help="the property that identifies a district")] = "adcode",
    crs: Annotated[str, typer.Option(help="datum of the file: wgs84, gcj02 or bd09")] = "wgs84",
) -> None:
    """Upsert district polygons (GeoJSON Polygon/MultiPolygon) by code; region campaigns target them."""
    from lbs_service.importer.boundaries import import_boundaries as run_import
    from lbs_service.storage.db import Database

    try:
        datum = parse_datum(crs)
    except ValueError as error:
        err.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    if not path.is_file():
        err.print(f"[red]no such file: {path}[/red]")
        raise typer.Exit(2)
    result = run_import(Database(_settings()), path, code_field, datum)
    Console().print(f"{len(result.imported)} districts imported: {', '.join(result.imported[:20])}")
    for number, reason in result.rejected:
        err.print(f"  feature {number}: {reason}")
    if result.rejected:
        raise typer.Exit(1)


@app.command()
def demo(stores: Annotated[int, typer.Option(min=2000)] = 2400) -> None:
    """Load a generated sample city (Nanjing): merchants, clustered stores with hours, campaigns, stock."""
    from lbs_service.demo import demo_extras, demo_stores
    from lbs_service.storage.db import Database
    from lbs_service.storage.stores import StoreRepository

    db = Database(_settings())
    repository = StoreRepository(db)
    for merchant, rows in demo_stores(stores).items():
        inserted, updated = repository.upsert_many(merchant, rows)
        err.print(f"{merchant}: {inserted} new, {updated} updated stores")
    campaigns, stocked = demo_extras(db)
    err.print(f"{campaigns} campaigns added; {stocked} stock rows set")


def _print_token(
    role: str, subject: str, store_id: int | None = None, merchant_id: int | None = None, ttl: int | None = None
) -> None:
    from lbs_service.auth import Principal, mint_token

    principal = Principal(role, subject, store_id, merchant_id)  # type: ignore[arg-type]
    print(mint_token(_settings(), principal, ttl))


TtlOption = Annotated[int | None, typer.Option(help="seconds until it expires (default LBS_TOKEN_TTL_S)")]


@token_app.command("user")
def token_user(user_id: str, ttl: TtlOption = None) -> None:
    """A token for an app user."""
    _print_token("user", user_id, ttl=ttl)


@token_app.command("staff")
def token_staff(store_id: int, ttl: TtlOption = None) -> None:
    """A token for the staff of one store (its console and redemptions)."""
    _print_token("staff", f"staff-{store_id}", store_id=store_id, ttl=ttl)


@token_app.command("merchant")
def token_merchant(merchant_id: int, ttl: TtlOption = None) -> None:
    """A token for a merchant's back office."""
    _print_token("merchant", f"merchant-{merchant_id}", merchant_id=merchant_id, ttl=ttl)


@token_app.command("operator")
def token_operator(ttl: TtlOption = None) -> None:
    """A token for the platform operator."""
    _print_token("operator", "operator", ttl=ttl)


if __name__ == "__main__":
    app(prog_name="lbs")


bench_app = typer.Typer(help="Benchmarks against PostGIS and Redis, in the same run.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")


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


@report_app.command("rebates")
def report_rebates(
    month: Annotated[str, typer.Option(help="YYYY-MM")],
    csv_path: Annotated[Path | None, typer.Option("--csv", help="also write the report as CSV")] = None,
    merchant_id: Annotated[int | None, typer.Option(help="only this merchant's outlets")] = None,
) -> None:
    """Monthly outlet volume, star tier and rebate (refunds excluded, each order counted once)."""
    import re

    from lbs_service.o2o.rebates import gradient_from, monthly_report, to_csv
    from lbs_service.storage.db import Database

    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        err.print("[red]--month is YYYY-MM[/red]")
        raise typer.Exit(2)
    settings = _settings()
    rows = monthly_report(Database(settings), month, gradient_from(settings.rebate_gradient), merchant_id)
    table = Table(title=f"outlet rebates, {month}")
    for column in ("store", "name", "orders", "redemptions", "volume", "stars", "rate", "rebate"):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(str(r.store_id), r.name, str(r.orders), str(r.redemptions), f"{r.volume_cents / 100:,.2f}",
                      "★" * r.stars, f"{r.rate_bp / 100:.2f} %", f"{r.rebate_cents / 100:,.2f}")
    Console().print(table)
    if csv_path:
        csv_path.write_text(to_csv(rows), encoding="utf-8")
        err.print(f"written: {csv_path}")

