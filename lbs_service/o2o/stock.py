"""Where a SKU is in stock right now."""

from sqlalchemy import select

from lbs_service.storage.db import Database
from lbs_service.storage.models import Stock


def stock_of(db: Database, sku_id: int) -> dict[int, int]:
    """store id -> quantity, for the stores holding at least one."""
    with db.session() as session:
        rows = session.execute(select(Stock.store_id, Stock.quantity).where(Stock.sku_id == sku_id,
                                                                           Stock.quantity > 0)).all()
    return {store_id: quantity for store_id, quantity in rows}
