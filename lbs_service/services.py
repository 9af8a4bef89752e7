"""The objects one worker shares between requests, built once at start-up, and their background work."""

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from lbs_service.analytics.demand import DemandRecorder
from lbs_service.catalog import StoreCatalog
from lbs_service.clock import Clock, system_clock
from lbs_service.gate import Gate
from lbs_service.invalidation import changes_of
from lbs_service.o2o.payments import PaymentProvider, SimulatedProvider
from lbs_service.outbox.relay import OutboxRelay
from lbs_service.proximity.caches import CampaignCache, CustomerCache, on_change
from lbs_service.proximity.committer import GroupCommitter
from lbs_service.proximity.engine import ProximityEngine
from lbs_service.proximity.gauge import DemandGauge
from lbs_service.rate_limits import DEFAULT_RULES, RateLimiter, Rule
from lbs_service.revocations import RevocationList
from lbs_service.settings import Settings
from lbs_service.storage.db import Database
from lbs_service.storage.stores import StoreRepository
from lbs_service.webpush.endpoints import parse_allowed_hosts
from lbs_service.webpush.sender import PushSettings, WebPushSender
from push.broker import Broker, InProcessBroker
from push.fence_store import FenceStore, InProcessFenceStore, RedisFenceStore
from push.hub import Hub
from push.redis_broker import RedisBroker, connect_redis

log = logging.getLogger(__name__)


def push_settings(settings: Settings) -> PushSettings:
    return PushSettings(parse_allowed_hosts(settings.webpush_allowed_hosts), settings.vapid_private_key,
                        settings.vapid_subject, settings.webpush_ttl_s, settings.webpush_retry_base_s,
                        settings.webpush_max_attempts, settings.webpush_poll_s)


@dataclass
class Services:
    """Everything one worker shares between requests; built by `build`, started and closed with the app."""
    settings: Settings
    db: Database
    stores: StoreRepository
    catalog: StoreCatalog
    hub: Hub
    relay: OutboxRelay
    committer: GroupCommitter
    engine: ProximityEngine
    gauge: DemandGauge
    customers: CustomerCache
    campaigns: CampaignCache
    payments: PaymentProvider
    demand: DemandRecorder
    limits: RateLimiter
    revocations: RevocationList
    clock: Clock
    coverage_gate: Gate
    postgis_gate: Gate
    webpush: WebPushSender
    _loop: asyncio.AbstractEventLoop | None = None
    _announcements: set[asyncio.Task[None]] = field(default_factory=set)

    @classmethod
    def build(cls, settings: Settings, clock: Clock = system_clock) -> "Services":
        """Redis when LBS_REDIS_URL is set (several workers share it); in-process otherwise."""
        db = Database(settings)
        stores = StoreRepository(db)
        catalog = StoreCatalog(stores)
        broker: Broker
        fences: FenceStore
        rules = {**DEFAULT_RULES, **{k: Rule(*v) for k, v in settings.rate_limit_rules.items()}}
        client = None
        if settings.redis_url:
            client = connect_redis(settings.redis_url, cluster=settings.redis_cluster)
            broker = RedisBroker(client, retention=settings.stream_retention, prefix=settings.redis_prefix)
            fences = RedisFenceStore(client, ttl_s=settings.fix_retention_s, prefix=settings.redis_prefix)
        else:
            broker = InProcessBroker(retention=settings.stream_retention)
            fences = InProcessFenceStore(settings.fix_retention_s)
        limits = RateLimiter(rules, client, settings.redis_prefix, settings.rate_limits, clock)
        visits = settings.visits
        hub = Hub(broker, queue_limit=settings.ws_queue_limit)
        relay = OutboxRelay(db, hub, clock)
        committer = GroupCommitter(db, hub, settings.secret_key, clock, visits.commit_interval_s, visits.commit_batch)
        gauge = DemandGauge(hub, visits.gauge_interval_s)
        demand = DemandRecorder(db, settings.secret_key)
        customers = CustomerCache(db, settings.member_tiers)
        campaigns = CampaignCache(db, clock)
        engine = ProximityEngine(visits, catalog, fences, hub, committer, gauge, demand, customers, campaigns, clock)
        services = cls(settings, db, stores, catalog, hub, relay, committer, engine, gauge, customers, campaigns,
                       SimulatedProvider(settings), demand, limits, RevocationList(db), clock,
                       Gate("coverage", per_worker=4, per_principal=2),
                       Gate("engine=postgis", per_worker=2, per_principal=1),
                       WebPushSender(db, hub, push_settings(settings), clock))
        db.on_commit(services._announce)
        return services

    # ---- changes announced to every worker (invalidation.py) ---------------------------------
    def _announce(self, session: Session) -> None:
        """After a commit (in its thread): broadcast what it changed, from the event loop."""
        messages = changes_of(session)
        if messages and self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closing
                self._loop.call_soon_threadsafe(self._broadcast, messages)

    def _broadcast(self, messages: list[dict[str, Any]]) -> None:
        async def send() -> None:
            for message in messages:
                try:
                    await self.hub.broadcast(message)
                except Exception as error:  # the backplane is away: caches are dropped when it returns
                    log.warning("change announcement lost (%s)", type(error).__name__)

        task = asyncio.get_running_loop().create_task(send())
        self._announcements.add(task)
        task.add_done_callback(self._announcements.discard)

    async def _control(self, message: dict[str, Any]) -> None:
        await on_change(message, self.customers, self.campaigns)
        await self.engine.on_control(message)

    async def _reconnected(self) -> None:
        """The backplane was away: an announcement may have been missed, so drop what depends on them."""
        self.customers.drop_all()
        await asyncio.to_thread(self.campaigns.load)

    # ---- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> list[asyncio.Task[None]]:
        """Start the backplane, the pipeline and their background tasks (returned, to cancel at stop)."""
        self._loop = asyncio.get_running_loop()
        self.hub.on_control(self._control)
        self.hub.on_reconnect(self._reconnected)
        await asyncio.to_thread(self.campaigns.load)
        await self.hub.start()
        await self.relay.start()
        await self.committer.start()
        await self.webpush.start()
        return [asyncio.create_task(task) for task in
                (self.gauge.run(), self.engine.run_background(), self.campaigns.follow(), self.hub.hold_every())]

    async def close(self) -> None:
        await self.committer.close()
        await asyncio.to_thread(self.demand.flush)  # what was seen before shutdown still counts
        await self.engine.close()
        await self.relay.close()
        await self.webpush.close()
        await self.hub.close()
        self._loop = None
        self.db.dispose()
