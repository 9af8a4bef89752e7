"""Who runs the outlets and what kinds there are: the planner's filters (and anyone's), from the
worker's catalogue of open stores and the merchants table."""

from collections import Counter

from sqlalchemy import select

from lbs_service.catalog import StoreCatalog
from lbs_service.responses import MerchantPublic
from lbs_service.storage.db import Database
from lbs_service.storage.models import Merchant


def merchant_list(db: Database, catalog: StoreCatalog) -> list[MerchantPublic]:
    """Merchants with open stores, by name, with how many they run."""
    running = Counter(r.merchant_id for r in catalog.snapshot())
    with db.session() as session:
        names = dict(session.execute(select(Merchant.id, Merchant.name).where(Merchant.id.in_(list(running)))).all())
    return sorted((MerchantPublic(id=m, name=names[m], stores=n) for m, n in running.items() if m in names),
                  key=lambda m: (m.name, m.id))
