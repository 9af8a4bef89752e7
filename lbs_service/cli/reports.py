"""`lbs report rebates`, `lbs report stocking` and `lbs coverage`: what operators and planners take away as files."""

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from lbs_service.cli.common import database, err, fail, settings
from lbs_service.fields import MONTH_PATTERN


def report_rebates(
    month: Annotated[str, typer.Option(help="the month, YYYY-MM")],
    csv_path: Annotated[Path | None, typer.Option("--csv", help="also write the report as CSV")] = None,
    merchant_id: Annotated[int | None, typer.Option(min=1, max=2**63 - 1, help="only this merchant's outlets")] = None,
) -> None:
    """Monthly outlet volume, star tier and rebate (refunds excluded, each order counted once)."""
    from lbs_service.o2o.rebates import gradient_from, monthly_report, to_csv

    if not re.fullmatch(MONTH_PATTERN, month):
        fail("--month is YYYY-MM, between 1970 and 2199")
    config = settings()
    rows = monthly_report(database(), month, gradient_from(config.rebate_gradient), merchant_id)
    table = Table(title=f"outlet rebates, {month}")
    for column in ("store", "name", "orders", "redemptions", "bills", "volume", "stars", "rate", "rebate"):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(str(r.store_id), r.name, str(r.orders), str(r.redemptions), str(r.bill_payments),
                      f"{r.volume_cents / 100:,.2f}", "★" * r.stars, f"{r.rate_bp / 100:.2f} %",
                      f"{r.rebate_cents / 100:,.2f}")
    Console().print(table)
    if csv_path:
        csv_path.write_text(to_csv(rows), encoding="utf-8")
        err.print(f"written: {csv_path}")


def report_stocking(
    store: Annotated[int, typer.Option(min=1, max=2**63 - 1, help="the store's id")],
    at: Annotated[str | None, typer.Option(help="forecast as of this ISO 8601 instant (default: now)")] = None,
) -> None:
    """Per product at one store: on hand, the next 7 days' demand forecast, and what to order."""
    from datetime import UTC, datetime

    from lbs_service.errors import DomainError
    from lbs_service.o2o.stocking import suggestions

    try:
        when = datetime.fromisoformat(at) if at else datetime.now(UTC)  # an operator's own run: now
    except ValueError:
        fail("--at is an ISO 8601 instant, e.g. 2026-11-23T12:00:00+08:00")
    if when.tzinfo is None:
        fail("--at needs a time zone")
    try:
        rows = suggestions(database(), store, when)
    except DomainError as error:
        fail(error.detail)
    table = Table(title=f"stocking suggestions, store {store}")
    for column in ("sku", "name", "on hand", "forecast 7d", "order"):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(r.code, r.name, str(r.on_hand), f"{r.forecast_7d:.1f}", str(r.suggested_order))
    Console().print(table)
    if rows:
        err.print(f"method: {rows[0].method}")


def coverage_export(
    district: Annotated[str | None, typer.Option(help="district codes imported with `lbs import boundaries`, "
                                                      "comma-separated")] = None,
    bbox: Annotated[str | None, typer.Option(help="an area: min_lng,min_lat,max_lng,max_lat")] = None,
    all_districts: Annotated[bool, typer.Option("--all-districts", help="every imported district")] = False,
    res: Annotated[int, typer.Option(min=8, max=9, help="H3 resolution of the cells: 8 or 9")] = 9,
    radius_m: Annotated[float, typer.Option(min=50, max=10_000, help="the service radius of a store")] = 1000.0,
    geojson_path: Annotated[Path | None, typer.Option("--geojson", help="write the cells as GeoJSON here")] = None,
    csv_path: Annotated[Path | None, typer.Option("--csv", help="write the cells as CSV here")] = None,
) -> None:
    """Coverage cells (nearest store, overlap, covered, demand) for planners, as GeoJSON and CSV."""
    import json
    import time
    from datetime import UTC, datetime

    from sqlalchemy import select

    from lbs_service.analytics.coverage_report import CoverageRequest, plan, to_csv, to_geojson
    from lbs_service.catalog import StoreCatalog
    from lbs_service.errors import DomainError
    from lbs_service.storage.models import District
    from lbs_service.storage.stores import StoreRepository

    config = settings()
    db = database()
    catalog = StoreCatalog(StoreRepository(db))
    catalog.load()
    if all_districts:
        with db.session() as session:
            codes = tuple(session.scalars(select(District.code).order_by(District.code)))
    else:
        codes = tuple(c for c in (district or "").split(",") if c)
    request = CoverageRequest(codes, None if codes else _parse_bbox(bbox), res, radius_m,
                              config.demand_retention_days, config.demand_min_users)
    started = time.perf_counter()
    try:
        planned = plan(db, catalog, request, datetime.now(UTC), max_work=float("inf"))  # an operator's own run
    except DomainError as error:
        fail(str(error))
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
        fail("give --district, --bbox or --all-districts")
    try:
        parts = [float(v) for v in raw.split(",")]
    except ValueError:
        fail("--bbox is four numbers: min_lng,min_lat,max_lng,max_lat")
    if len(parts) != 4:
        fail("--bbox is four numbers: min_lng,min_lat,max_lng,max_lat")
    return parts[0], parts[1], parts[2], parts[3]
