"""`lbs import stores` and `lbs import boundaries`: real files in, rejects out, nothing guessed silently."""

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from geo_index import Datum, parse_datum
from lbs_service.cli.common import database, err, fail

ColumnOption = Annotated[str | None, typer.Option(help="the column that holds it (default: recognised by name)")]
CrsOption = Annotated[str, typer.Option(help="datum of the file: wgs84, gcj02 or bd09")]


def import_stores(
    path: Annotated[Path, typer.Argument(help="a CSV or GeoJSON file of stores")],
    crs: CrsOption = "wgs84",
    id_col: Annotated[str | None, typer.Option("--id-col", help="the column of each store's own id")] = None,
    lat_col: Annotated[str | None, typer.Option("--lat-col", help="the latitude column")] = None,
    lng_col: Annotated[str | None, typer.Option("--lng-col", help="the longitude column")] = None,
    name_col: Annotated[str | None, typer.Option("--name-col", help="the name column")] = None,
    category_col: Annotated[str | None, typer.Option("--category-col", help="the category column")] = None,
    address_col: Annotated[str | None, typer.Option("--address-col", help="the address column")] = None,
    phone_col: Annotated[str | None, typer.Option("--phone-col", help="the phone column")] = None,
    tz_col: Annotated[str | None, typer.Option("--tz-col", help="a column of IANA time zones, per store")] = None,
    merchant: Annotated[str | None, typer.Option(help="owner of the stores (default: the file's name)")] = None,
    default_category: Annotated[str, typer.Option(help="category when the file has none")] = "store",
    tz: Annotated[str | None, typer.Option(
        help="stores' time zone when no column gives it (default: Asia/Shanghai for gcj02/bd09, else UTC)")] = None,
) -> None:
    """Upsert stores from a CSV or GeoJSON file; bad rows go to PATH.rejects.csv (exit 1 if any)."""
    from lbs_service.hours import HoursError, parse_timezone
    from lbs_service.importer.normalize import ImportOptions
    from lbs_service.importer.run import import_stores as run_import
    from lbs_service.storage.stores import StoreRepository

    try:
        datum = parse_datum(crs)
        zone = tz or ("Asia/Shanghai" if datum in (Datum.GCJ02, Datum.BD09) else "UTC")
        parse_timezone(zone)
    except (ValueError, HoursError) as error:
        fail(str(error))
    if not path.is_file():
        fail(f"no such file: {path}")
    db = database()
    options = ImportOptions(crs=datum, timezone=zone, default_category=default_category)
    columns = {"id": id_col, "lat": lat_col, "lng": lng_col, "name": name_col, "category": category_col,
               "address": address_col, "phone": phone_col, "timezone": tz_col}
    with Progress(TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err,
                  transient=False) as progress:
        task = progress.add_task("import", total=None)
        try:
            summary = run_import(path, StoreRepository(db), merchant or path.stem, options, columns,
                                 lambda done, total: progress.update(task, completed=done, total=total))
        except ValueError as error:
            fail(str(error))
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


def import_boundaries(
    path: Annotated[Path, typer.Argument(help="a GeoJSON file of Polygon/MultiPolygon features")],
    code_field: Annotated[str, typer.Option(help="the property that identifies a district")] = "adcode",
    crs: CrsOption = "wgs84",
) -> None:
    """Upsert district polygons (GeoJSON Polygon/MultiPolygon) by code; region campaigns target them."""
    from lbs_service.importer.boundaries import import_boundaries as run_import

    try:
        datum = parse_datum(crs)
    except ValueError as error:
        fail(str(error))
    if not path.is_file():
        fail(f"no such file: {path}")
    result = run_import(database(), path, code_field, datum)
    Console().print(f"{len(result.imported)} districts imported: {', '.join(result.imported[:20])}")
    for number, reason in result.rejected:
        err.print(f"  feature {number}: {reason}")
    if result.rejected:
        raise typer.Exit(1)
