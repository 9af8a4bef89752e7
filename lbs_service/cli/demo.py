"""`lbs demo`: the sample city, so a new user sees everything work."""

from typing import Annotated

import typer

from lbs_service.cli.common import database, err, settings


def demo(
    stores: Annotated[int, typer.Option(min=2000, help="how many demo stores")] = 2400,
    if_empty: Annotated[bool, typer.Option(
        "--if-empty", help="load only into a database without stores (what scripts/run.sh does)")] = False,
) -> None:
    """Load a generated sample city (Nanjing): merchants, clustered stores with hours, campaigns, stock."""
    from datetime import UTC, datetime

    from sqlalchemy import func, select

    from lbs_service.demo import demo_demand, demo_districts, demo_extras, demo_stores
    from lbs_service.storage.models import Store
    from lbs_service.storage.stores import StoreRepository

    db = database()
    if if_empty:
        with db.session() as session:
            held = session.scalar(select(func.count()).select_from(Store)) or 0
        if held:
            err.print(f"the database already holds {held:,} stores: the demo is not loaded (nothing is changed)")
            return
    repository = StoreRepository(db)
    for merchant, rows in demo_stores(stores).items():
        inserted, updated = repository.upsert_many(merchant, rows)
        err.print(f"{merchant}: {inserted} new, {updated} updated stores")
    now = datetime.now(UTC)  # the demo starts now, for the person running it
    campaigns, stocked = demo_extras(db, now)
    err.print(f"{campaigns} campaigns added; {stocked} stock rows set")
    err.print(f"{demo_districts(db)} demo districts; {demo_demand(db, settings().secret_key, now)} demand sightings")
