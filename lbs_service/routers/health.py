"""Liveness and readiness."""

import asyncio

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy import text

from lbs_service.deps import ServicesDep
from lbs_service.problems import problem
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


def _redis_ok(services: Services) -> bool | None:
    if not services.settings.redis_url:
        return None  # the in-process broker has nothing to check
    import redis

    try:
        client = redis.Redis.from_url(services.settings.redis_url, socket_timeout=1, socket_connect_timeout=1)
        return bool(client.ping())
    except redis.RedisError:
        return False


@router.get("/readyz", response_model=None)
async def readyz(services: ServicesDep) -> dict[str, object] | Response:
    database, redis_state = await asyncio.gather(
        asyncio.to_thread(_database_ok, services), asyncio.to_thread(_redis_ok, services)
    )
    checks = {
        "database": database,
        "redis": "embedded" if redis_state is None else redis_state,
        "stores_indexed": len(services.catalog.index),
    }
    if not database or redis_state is False:
        return problem(503, "Not ready", f"checks failed: {checks}", checks=checks)
    return {"status": "ready", "checks": checks}
