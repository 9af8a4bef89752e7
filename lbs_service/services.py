"""The objects one worker shares between requests, built once at start-up."""

from dataclasses import dataclass

from lbs_service.catalog import StoreCatalog
from lbs_service.settings import Settings
from lbs_service.storage.db import Database
from lbs_service.storage.stores import StoreRepository


@dataclass
class Services:
    settings: Settings
    db: Database
    stores: StoreRepository
    catalog: StoreCatalog

    @classmethod
    def build(cls, settings: Settings) -> "Services":
        db = Database(settings)
        stores = StoreRepository(db)
        return cls(settings, db, stores, StoreCatalog(stores))
