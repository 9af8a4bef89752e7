"""What proximity decisions read, held per worker: customers (consent, caps, coupons, orders, tiers)
and the running campaigns. Filled from the database once, dropped when a commit announces a change
(invalidation.py), and dropped wholesale after the backplane was away (an announcement may have
been missed). Campaigns are also reloaded every RELOAD_S, so one that starts is seen in time.
"""

import asyncio
import logging
import time
from collections import OrderedDict
from datetime import datetime, timedelta

from lbs_service.clock import Clock
from lbs_service.invalidation import CAMPAIGNS, CUSTOMER
from lbs_service.o2o import campaigns as o2o_campaigns
from lbs_service.o2o import customers
from lbs_service.o2o.campaigns import CampaignView
from lbs_service.o2o.customers import Customer
from lbs_service.storage.db import Database

log = logging.getLogger(__name__)
RELOAD_S = 30.0
HORIZON = timedelta(hours=1)  # campaigns starting this soon are loaded too
MAX_CUSTOMERS = 100_000


class CustomerCache:
    """Customers loaded once and kept until their data changes (or the TTL), the oldest loaded first out when full."""

    def __init__(self, db: Database, tiers: dict[str, int], ttl_s: float = 600.0) -> None:
        self.db, self.tiers, self.ttl_s = db, tiers, ttl_s
        self._customers: OrderedDict[str, Customer] = OrderedDict()
        self._generation = 0  # bumped on every drop, so a load that raced a drop is not kept

    def peek(self, user_id: str) -> Customer | None:
        customer = self._customers.get(user_id)
        if customer is not None and time.monotonic() - customer.loaded_at > self.ttl_s:
            del self._customers[user_id]
            return None
        return customer

    async def get(self, user_id: str, at: datetime) -> Customer:
        customer = self.peek(user_id)
        if customer is not None:
            return customer
        generation = self._generation
        customer = await asyncio.to_thread(self._load, user_id, at)
        if generation == self._generation:
            self._customers[user_id] = customer
            if len(self._customers) > MAX_CUSTOMERS:
                self._customers.popitem(last=False)
        return customer

    def _load(self, user_id: str, at: datetime) -> Customer:
        with self.db.session() as session:
            customer = customers.load(session, user_id, at, self.tiers)
        customer.loaded_at = time.monotonic()
        return customer

    def drop(self, user_id: str) -> None:
        self._generation += 1
        self._customers.pop(user_id, None)

    def drop_all(self) -> None:
        self._generation += 1
        self._customers.clear()


class CampaignCache:
    """The campaigns running now or soon, reloaded when one changes."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db, self.clock = db, clock
        self._campaigns: list[CampaignView] = []
        self._loaded_at = -1e9

    def load(self) -> None:
        with self.db.session() as session:
            self._campaigns = o2o_campaigns.current_and_upcoming(session, self.clock(), HORIZON)
        self._loaded_at = time.monotonic()

    def running(self, at: datetime) -> list[CampaignView]:
        """Campaigns running at `at`, highest priority first."""
        return [c for c in self._campaigns if c.running_at(at)]

    async def follow(self) -> None:
        while True:
            await asyncio.sleep(RELOAD_S)
            try:
                await asyncio.to_thread(self.load)
            except Exception as error:  # a database blip: keep the last list, retry later
                log.warning("campaign cache reload skipped (%s)", type(error).__name__)


async def on_change(message: dict[str, object], customers_cache: CustomerCache, campaigns: CampaignCache) -> None:
    """A control message announcing a committed change (invalidation.py)."""
    if message.get("kind") == CUSTOMER and isinstance(message.get("user_id"), str):
        customers_cache.drop(str(message["user_id"]))
    elif message.get("kind") == CAMPAIGNS:
        await asyncio.to_thread(campaigns.load)
