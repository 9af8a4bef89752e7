"""A member's points: the statement, and exchanges of points for coupons (o2o/points.py)."""

import asyncio

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from lbs_service.auth import require_role
from lbs_service.deps import PrincipalDep, ServicesDep
from lbs_service.fields import RowId
from lbs_service.o2o import exchanges, points
from lbs_service.responses import Exchanged, PointsEntryPublic, PointsStatement
from lbs_service.routers.outcomes import outcome_response
from lbs_service.routers.params import IdempotencyKeyHeader

router = APIRouter(tags=["points"])


class ExchangeBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    campaign_id: RowId


@router.get("/v1/users/me/points", response_model=PointsStatement)
async def my_points(services: ServicesDep, principal: PrincipalDep) -> PointsStatement:
    user = require_role(principal, "user")
    balance, entries = await asyncio.to_thread(points.statement_of, services.db, user.subject)
    return PointsStatement(balance=balance, entries=[
        PointsEntryPublic(delta=e.delta, reason=e.reason, ref=e.ref, at=e.at.isoformat()) for e in entries])


@router.post("/v1/points/exchanges", status_code=201, response_model=None, responses={201: {"model": Exchanged}})
async def exchange_points(services: ServicesDep, principal: PrincipalDep, body: ExchangeBody,
                          idempotency_key: IdempotencyKeyHeader = None) -> Response:
    """Buy a campaign's coupon with points (campaigns with a points price)."""
    user = require_role(principal, "user")
    await services.limits.check("claim", user.subject)
    outcome = await asyncio.to_thread(exchanges.exchange, services.db, body.campaign_id, user.subject,
                                      idempotency_key, services.clock(), services.settings.member_tiers)
    return outcome_response(outcome)
