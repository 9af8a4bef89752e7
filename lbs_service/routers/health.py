"""Liveness and readiness."""

import asyncio

from fastapi import APIRouter
from fastapi.responses import Response

from lbs_service import metrics
from lbs_service.deps import OperatorDep, ServicesDep
from lbs_service.outbox.relay import outbox_backlog
from lbs_service.problems import problem
from lbs_service.responses import Health, Ready

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=None, responses={200: {"model": Ready}})
async def readyz(services: ServicesDep) -> dict[str, object] | Response:
    database = await asyncio.to_thread(services.db.reachable)
    redis_state = await services.hub.broker.healthy() if services.settings.redis_url else None
    checks = {
        "database": database,
        "redis": "embedded" if redis_state is None else redis_state,
        "stores_indexed": len(services.catalog.index),
    }
    if not database or redis_state is False:
        return problem(503, "Not ready", f"checks failed: {checks}", checks=checks)
    return {"status": "ready", "checks": checks}


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def prometheus(services: ServicesDep, _: OperatorDep) -> Response:
    """Prometheus metrics of the whole server (every worker), for operators: a scrape job sends an
    operator token."""
    pending, lag_s = await asyncio.to_thread(outbox_backlog, services.db, services.clock())
    metrics.set_gauge("lbs_stores_indexed", len(services.catalog.index))
    metrics.set_gauge("lbs_outbox_pending", pending)
    metrics.set_gauge("lbs_outbox_lag_seconds", lag_s)
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)
