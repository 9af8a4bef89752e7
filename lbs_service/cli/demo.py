"""`lbs demo`: the sample city, so a new user sees everything work."""

from pathlib import Path
from typing import Annotated

import typer

from lbs_service.cli.common import database, err, fail, settings


def demo(
    data: Annotated[Path | None, typer.Option(help="the demo city's files (default: data/demo)")] = None,
    if_empty: Annotated[bool, typer.Option(
        "--if-empty", help="load only into a database without stores (what scripts/run.sh does)")] = False,
) -> None:
    """Load the sample city (Nanjing) from data/demo through the import paths: merchants' stores with
    hours, districts, campaigns, a catalogue with stock, and a day of demand."""
    from datetime import UTC, datetime

    from sqlalchemy import func, select

    from lbs_service.demo import demo_data_dir, demo_demand, load_demo
    from lbs_service.storage.models import Store

    folder = data or demo_data_dir()
    if folder is None or not (folder / "stores").is_dir():
        fail(f"no demo city at {folder or 'data/demo'}: name the folder with --data")
    db = database()
    if if_empty:
        with db.session() as session:
            held = session.scalar(select(func.count()).select_from(Store)) or 0
        if held:
            err.print(f"the database already holds {held:,} stores: the demo is not loaded (nothing is changed)")
            return
    now = datetime.now(UTC)  # the demo starts now, for the person running it
    loaded = load_demo(db, folder, now)
    for merchant, (inserted, updated) in loaded.stores.items():
        err.print(f"{merchant}: {inserted} new, {updated} updated stores")
    err.print(f"{loaded.districts} districts; {loaded.campaigns} campaigns and {loaded.games} games added; "
              f"{loaded.stock_rows} stock rows set")
    if loaded.rejected:
        fail(f"{loaded.rejected} rows of the demo files were rejected")
    err.print(f"{demo_demand(db, settings().secret_key, now)} demand sightings")
