"""The FastAPI application factory."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline

from lbs_service import problems
from lbs_service.access_log import AccessLogMiddleware
from lbs_service.body_limit import BodyLimitMiddleware
from lbs_service.o2o.orders import expire_unpaid
from lbs_service.proximity.arrival_keys import expire_arrival_keys
from lbs_service.routers import (
    campaigns,
    coupons,
    coverage,
    districts,
    health,
    orders,
    reports,
    stores,
    tokens,
    users,
    ws,
)
from lbs_service.services import Services
from lbs_service.settings import Settings, get_settings
from lbs_service.web import pages

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = Services.build(settings)
        await asyncio.to_thread(services.catalog.load)
        await services.start()
        app.state.services = services
        await asyncio.to_thread(services.revocations.refresh)
        follower = asyncio.create_task(services.catalog.follow(settings.change_feed_poll_s))
        sweeper = asyncio.create_task(_housekeeping(services))
        revoker = asyncio.create_task(_follow_revocations(services))
        reconciler = asyncio.create_task(services.hub.reconcile_every(settings.stream_reconcile_s))
        try:
            yield
        finally:
            services.catalog.stop()
            await follower
            for task in (sweeper, revoker, reconciler):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await services.close()

    app = FastAPIOffline(
        title="LBS O2O service",
        version="0.1.0",
        description="Exact nearby search, proximity push and the online-to-offline flow.",
        lifespan=lifespan,
        responses=problems.documented_responses(),
    )
    problems.install(app)
    app.add_middleware(BodyLimitMiddleware)
    if settings.cors_origins:  # the named portal origins only (settings refuse '*'); tokens are headers, not cookies
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=False,
                           allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
                           expose_headers=["X-Request-Id", "Retry-After"], max_age=600)
    app.add_middleware(AccessLogMiddleware)
    app.include_router(health.router)
    app.include_router(stores.router)
    app.include_router(users.router)
    app.include_router(campaigns.router)
    app.include_router(coupons.router)
    app.include_router(orders.router)
    app.include_router(reports.router)
    app.include_router(coverage.router)
    app.include_router(districts.router)
    app.include_router(tokens.router)
    app.include_router(ws.router)
    app.include_router(pages.router)
    app.mount("/static", pages.static_files(), name="static")
    vendor = pages.vendor_files(settings.node_modules_dir)
    if vendor is not None:  # without `npm ci` the finder says the map library is missing
        app.mount("/vendor/maplibre-gl", vendor, name="maplibre")
    return app


async def _housekeeping(services: Services, every_s: float = 10.0) -> None:
    """Write buffered demand, expire old demand, give back the stock of orders nobody paid for.

    Every worker does it; each step is safe to run twice (inserts ignore repeats, a cancelled
    order cannot be cancelled again).
    """
    rounds = 0
    while True:
        await asyncio.sleep(every_s)
        rounds += 1
        try:
            await asyncio.shield(asyncio.to_thread(services.demand.flush))
            if rounds % 3 == 0:
                await asyncio.shield(asyncio.to_thread(expire_unpaid, services.db, services.payments,
                                                       services.settings.order_payment_timeout_s))
            if rounds % 360 == 0:
                await asyncio.shield(asyncio.to_thread(services.demand.expire, services.settings.demand_retention_days))
                await asyncio.shield(asyncio.to_thread(expire_arrival_keys, services.db,
                                                       services.settings.fix_retention_s))
        except Exception:  # a database blip: the next round retries
            log.exception("housekeeping failed")



async def _follow_revocations(services: Services) -> None:
    """Reload revoked subjects and close the websockets they hold, within one poll interval."""
    while True:
        await asyncio.sleep(services.settings.revocation_poll_s)
        try:
            await asyncio.to_thread(services.revocations.refresh)
            services.revocations.enforce()
        except Exception:  # a database blip: keep the last list, retry at the next poll
            log.exception("revocation refresh failed")
