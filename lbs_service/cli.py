"""The `lbs` command: serve, migrate, import, demo data, tokens, benchmarks."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from geo_index import Datum, parse_datum
from lbs_service.cli_bench import bench_app

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
app.add_typer(bench_app, name="bench")
err = Console(stderr=True)


def _settings() -> "Settings":  # imported late: `lbs --help` stays fast
    from lbs_service.settings import get_settings

    return get_settings()


def log_config(level: str, json_lines: bool = False) -> dict[str, Any]:
    """Uvicorn's logging plus our loggers (the access log among them), one line per record."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = {**LOGGING_CONFIG, "loggers": dict(LOGGING_CONFIG["loggers"])}
    if json_lines:
        config["formatters"] = {name: {"()": "lbs_service.log_format.JsonFormatter"}
                                for name in LOGGING_CONFIG["formatters"]}
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
        log_config=log_config(log_level, settings.log_format == "json"),
        access_log=False,
        ws=settings.ws_impl,
        ws_ping_interval=20.0,  # protocol pings: a dead peer is dropped within ping interval + timeout
        ws_ping_timeout=20.0,
        ws_max_size=65536,  # a larger frame closes the socket with 1009
        proxy_headers=False,
        server_header=False,
        http="lbs_service.http_protocol:HeaderDeadlineProtocol",  # request headers have a deadline
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
    from datetime import UTC, datetime

    from lbs_service.demo import demo_demand, demo_districts, demo_extras, demo_stores
    from lbs_service.storage.db import Database
    from lbs_service.storage.stores import StoreRepository

    db = Database(_settings())
    repository = StoreRepository(db)
    for merchant, rows in demo_stores(stores).items():
        inserted, updated = repository.upsert_many(merchant, rows)
        err.print(f"{merchant}: {inserted} new, {updated} updated stores")
    now = datetime.now(UTC)  # the demo starts now, for the person running it
    campaigns, stocked = demo_extras(db, now)
    err.print(f"{campaigns} campaigns added; {stocked} stock rows set")
    err.print(f"{demo_districts(db)} demo districts; {demo_demand(db, _settings().secret_key, now)} demand sightings")


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


@app.command("coverage")
def coverage_export(
    district: Annotated[str | None, typer.Option(help="a district code imported with `lbs import boundaries`")] = None,
    bbox: Annotated[str | None, typer.Option(help="min_lng,min_lat,max_lng,max_lat")] = None,
    all_districts: Annotated[bool, typer.Option("--all-districts", help="every imported district")] = False,
    res: Annotated[int, typer.Option(min=8, max=9)] = 9,
    radius_m: float = 1000.0,
    geojson_path: Annotated[Path | None, typer.Option("--geojson")] = None,
    csv_path: Annotated[Path | None, typer.Option("--csv")] = None,
) -> None:
    """Coverage cells (nearest store, overlap, covered, demand) for planners, as GeoJSON and CSV."""
    import json
    import time
    from datetime import UTC, datetime

    from sqlalchemy import select

    from lbs_service.analytics.coverage_report import CoverageRequest, plan, to_csv, to_geojson
    from lbs_service.catalog import StoreCatalog
    from lbs_service.errors import DomainError
    from lbs_service.storage.db import Database
    from lbs_service.storage.models import District
    from lbs_service.storage.stores import StoreRepository

    settings = _settings()
    db = Database(settings)
    catalog = StoreCatalog(StoreRepository(db))
    catalog.load()
    if all_districts:
        with db.session() as session:
            codes = tuple(session.scalars(select(District.code).order_by(District.code)))
    else:
        codes = tuple(c for c in (district or "").split(",") if c)
    request = CoverageRequest(codes, None if codes else _parse_bbox(bbox), res, radius_m,
                              settings.demand_retention_days, settings.demand_min_users)
    started = time.perf_counter()
    try:
        planned = plan(db, catalog, request, datetime.now(UTC), max_work=float("inf"))  # an operator's own run
    except DomainError as error:
        err.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    geojson = to_geojson(planned)
    elapsed = time.perf_counter() - started
    summary = geojson["summary"]
    err.print(f"{summary['cells']:,} cells at res {res} in {elapsed:.1f} s; {summary['covered']:,} covered "
              f"({100 * summary['covered'] / max(1, summary['cells']):.1f} %) by {len(catalog.records):,} stores")
    if geojson_path:
        geojson_path.write_text(json.dumps(geojson), encoding="utf-8")
    if csv_path:
        csv_path.write_text(to_csv(planned), encoding="utf-8")


def _parse_bbox(raw: str | None) -> tuple[float, float, float, float]:
    if raw is None:
        err.print("[red]give --district, --bbox or --all-districts[/red]")
        raise typer.Exit(2)
    parts = [float(v) for v in raw.split(",")]
    if len(parts) != 4:
        err.print("[red]--bbox is min_lng,min_lat,max_lng,max_lat[/red]")
        raise typer.Exit(2)
    return parts[0], parts[1], parts[2], parts[3]


if __name__ == "__main__":
    app(prog_name="lbs")
