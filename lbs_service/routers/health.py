"""Liveness and readiness."""

import asyncio

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy import text

from lbs_service import metrics
from lbs_service.deps import ServicesDep
from lbs_service.problems import problem
from lbs_service.proximity.outbox import outbox_backlog
from lbs_service.services import Services

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _database_ok(services: Services) -> bool:
    try:
        with services.db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


@router.get("/readyz", response_model=None)
async def readyz(services: ServicesDep) -> dict[str, object] | Response:
    database = await asyncio.to_thread(_database_ok, services)
    redis_state = await services.hub.broker.healthy() if services.settings.redis_url else None
    checks = {
        "database": database,
        "redis": "embedded" if redis_state is None else redis_state,
        "stores_indexed": len(services.catalog.index),
    }
    if not database or redis_state is False:
        return problem(503, "Not ready", f"checks failed: {checks}", checks=checks)
    return {"status": "ready", "checks": checks}


@router.get("/metrics", response_class=PlainTextResponse)
async def prometheus(services: ServicesDep) -> str:
    pending, lag_s = await asyncio.to_thread(outbox_backlog, services.db)
    gauges = {"lbs_websocket_subscribers": float(services.hub.connections),
              "lbs_stores_indexed": float(len(services.catalog.index)),
              "lbs_outbox_pending": float(pending), "lbs_outbox_lag_seconds": lag_s}
    return metrics.render(gauges)
