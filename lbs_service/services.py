"""The objects one worker shares between requests, built once at start-up."""

import asyncio
from dataclasses import dataclass

from lbs_service.analytics.demand import DemandRecorder
from lbs_service.catalog import StoreCatalog
from lbs_service.o2o.payments import PaymentProvider, SimulatedProvider
from lbs_service.proximity.engine import ProximityEngine
from lbs_service.proximity.outbox import OutboxRelay
from lbs_service.rate_limits import DEFAULT_RULES, RateLimiter, Rule
from lbs_service.revocations import RevocationList
from lbs_service.settings import Settings
from lbs_service.storage.db import Database
from lbs_service.storage.stores import StoreRepository
from push.broker import Broker, InProcessBroker
from push.fence_store import FenceStore, InProcessFenceStore, RedisFenceStore
from push.hub import Hub
from push.redis_broker import RedisBroker, connect_redis


@dataclass
class Services:
    settings: Settings
    db: Database
    stores: StoreRepository
    catalog: StoreCatalog
    hub: Hub
    relay: OutboxRelay
    engine: ProximityEngine
    payments: PaymentProvider
    demand: DemandRecorder
    limits: RateLimiter
    revocations: RevocationList

    @classmethod
    def build(cls, settings: Settings) -> "Services":
        """Redis when LBS_REDIS_URL is set (several workers share it); in-process otherwise."""
        db = Database(settings)
        stores = StoreRepository(db)
        catalog = StoreCatalog(stores)
        broker: Broker
        fences: FenceStore
        rules = {**DEFAULT_RULES, **{k: Rule(*v) for k, v in settings.rate_limit_rules.items()}}
        limits = RateLimiter(rules, enabled=settings.rate_limits)
        if settings.redis_url:
            client = connect_redis(settings.redis_url, cluster=settings.redis_cluster)
            broker = RedisBroker(client, retention=settings.stream_retention, prefix=settings.redis_prefix)
            fences = RedisFenceStore(client, ttl_s=settings.fix_retention_s, prefix=settings.redis_prefix)
            limits = RateLimiter(rules, client, settings.redis_prefix, settings.rate_limits)
        else:
            broker = InProcessBroker(retention=settings.stream_retention)
            fences = InProcessFenceStore(settings.fix_retention_s)
        hub = Hub(broker, queue_limit=settings.ws_queue_limit)
        relay = OutboxRelay(db, hub)
        demand = DemandRecorder(db, settings.secret_key)
        engine = ProximityEngine(settings, db, catalog, fences, relay, demand)
        return cls(settings, db, stores, catalog, hub, relay, engine, SimulatedProvider(settings), demand,
                   limits, RevocationList(db))

    async def start(self) -> None:
        await self.hub.start()
        await self.relay.start()

    async def close(self) -> None:
        await asyncio.to_thread(self.demand.flush)  # what was seen before shutdown still counts
        await self.relay.close()
        await self.hub.close()
        self.db.dispose()
