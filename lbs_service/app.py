"""The FastAPI application factory."""

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline
from starlette.types import Receive, Scope, Send

from lbs_service import metrics, problems
from lbs_service.access_log import AccessLogMiddleware
from lbs_service.body_limit import BodyLimitMiddleware
from lbs_service.clock import Clock, system_clock
from lbs_service.collector import tune_for_serving, untune_after_serving
from lbs_service.housekeeping import housekeeping
from lbs_service.routers import (
    bills,
    campaigns,
    coupons,
    coverage,
    districts,
    games,
    health,
    orders,
    outlets,
    points,
    reports,
    stores,
    tokens,
    users,
    webpush,
    ws,
)
from lbs_service.routers.nearby_lane import NearbyLane
from lbs_service.services import Services
from lbs_service.settings import Settings, get_settings
from lbs_service.web import pages

log = logging.getLogger(__name__)


class Served:
    """The app as `lbs serve` runs it (asgi.py). FastAPI asks the OpenTelemetry API on every request
    whether a provider is configured: three environment lookups, 4 % of a nearby answer's time.
    Whether one is, is settled when the app starts (lifespan): with none, requests go straight to
    the middleware stack, as they did before FastAPI had telemetry; with one, FastAPI instruments
    them as it would."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self.app
        if scope["type"] in ("http", "websocket") and app.state.telemetry_off:
            if app.root_path:
                scope["root_path"] = app.root_path
            scope["app"] = app
            await app.middleware_stack(scope, receive, send)  # type: ignore[misc]  # built in create_app
            return
        await app(scope, receive, send)


def _telemetry_configured(app: FastAPI) -> bool:
    native = getattr(app, "_native_telemetry", None)  # absent before FastAPI had telemetry
    return native is not None and bool(native.enabled())


def create_app(settings: Settings | None = None, clock: Clock = system_clock) -> FastAPI:
    """The app; `clock` is the service's "now" (tests and replays run it at a fixed instant)."""
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = Services.build(settings, clock)
        await asyncio.to_thread(services.catalog.load)
        background = await services.start()
        app.state.services = services
        await asyncio.to_thread(services.revocations.refresh)
        follower = asyncio.create_task(services.catalog.follow(settings.change_feed_poll_s))
        background += [asyncio.create_task(housekeeping(services)),
                       asyncio.create_task(_follow_revocations(services)),
                       asyncio.create_task(services.hub.reconcile_every(settings.stream_reconcile_s))]
        app.state.telemetry_off = not _telemetry_configured(app)
        tune_for_serving()  # what start-up built (the catalog, its indexes) lives as long as the app
        try:
            yield
        finally:
            untune_after_serving()
            services.catalog.stop()
            await follower
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await services.close()
            metrics.process_exited(os.getpid())

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
    app.include_router(games.router)
    app.include_router(points.router)
    app.include_router(bills.router)
    app.include_router(coverage.router)
    app.include_router(districts.router)
    app.include_router(outlets.router)
    app.include_router(tokens.router)
    app.include_router(webpush.router)
    app.include_router(ws.router)
    app.include_router(pages.router)
    app.mount("/static", pages.static_files(), name="static")
    app.include_router(pages.basemap_router(settings.basemap_pmtiles, settings.basemap_attribution,
                                            settings.districts_attribution))
    for prefix, files in pages.vendor_mounts(settings.node_modules_dir):
        app.mount(prefix, files)
    # The nearby fast lane goes in front of the whole stack, built here once everything is added.
    app.middleware_stack = NearbyLane(app.build_middleware_stack(), app.state, cors=bool(settings.cors_origins))
    app.state.telemetry_off = False  # until the app has started and found no provider
    return app


async def _follow_revocations(services: Services) -> None:
    """Reload revoked subjects and close the websockets they hold, within one poll interval."""
    while True:
        await asyncio.sleep(services.settings.revocation_poll_s)
        try:
            await asyncio.to_thread(services.revocations.refresh)
            services.revocations.enforce()
        except Exception:  # a database blip: keep the last list, retry at the next poll
            log.exception("revocation refresh failed")
