"""Scratch cards and wheels (o2o/games.py): created by the operator or a merchant, played by users,
audited by their owner."""

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from lbs_service.auth import require_role
from lbs_service.deps import PrincipalDep, ServicesDep
from lbs_service.errors import NotFound
from lbs_service.fields import INT32_MAX, Instant, Name, RowId, StoreId
from lbs_service.hours import HoursError, parse_timezone
from lbs_service.o2o import games
from lbs_service.responses import GameAudit, GameCreated, GamePublic, PlayResult
from lbs_service.routers.outcomes import outcome_response
from lbs_service.routers.params import IdempotencyKeyHeader, RowIdPath, StoreIdQuery

router = APIRouter(tags=["games"])


class PrizeBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    campaign_id: RowId
    odds_bp: Annotated[int, Field(ge=1, le=games.ODDS_SCALE, description="chance in basis points (1/10,000)")]
    stock: Annotated[int, Field(ge=0, le=INT32_MAX)]


class GameBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    title: Name
    kind: Literal["scratch", "wheel"]
    starts_at: Instant
    ends_at: Instant
    merchant_id: RowId | None = None
    store_ids: Annotated[list[StoreId], Field(min_length=1, max_length=1000)] | None = None
    plays_per_user_per_day: Annotated[int, Field(ge=1, le=100)]
    prizes: Annotated[list[PrizeBody], Field(min_length=1, max_length=20)]
    timezone: Annotated[str, Field(min_length=1, max_length=64, pattern="^[A-Za-z0-9_+/-]+$",
                                   description="whose calendar day the daily plays count in")] = "Asia/Shanghai"

    @model_validator(mode="after")
    def _sensible(self) -> "GameBody":
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if sum(p.odds_bp for p in self.prizes) > games.ODDS_SCALE:
            raise ValueError(f"prize odds add up to more than {games.ODDS_SCALE} basis points")
        if len({p.campaign_id for p in self.prizes}) != len(self.prizes):
            raise ValueError("each prize is another campaign")
        try:
            parse_timezone(self.timezone)
        except HoursError as error:
            raise ValueError(str(error)) from None
        return self


@router.post("/v1/games", status_code=201, response_model=GameCreated)
async def create_game(services: ServicesDep, principal: PrincipalDep, body: GameBody) -> GameCreated:
    """A game (operator; a merchant for its own stores and campaigns)."""
    new = games.NewGame(title=body.title, kind=body.kind, starts_at=body.starts_at, ends_at=body.ends_at,
                        plays_per_user_per_day=body.plays_per_user_per_day,
                        prizes=tuple(games.NewPrize(p.campaign_id, p.odds_bp, p.stock) for p in body.prizes),
                        merchant_id=body.merchant_id, store_ids=tuple(body.store_ids) if body.store_ids else None,
                        timezone=body.timezone)
    return GameCreated(id=await asyncio.to_thread(games.create, services.db, principal, new))


@router.get("/v1/games", response_model=list[GamePublic])
async def running_games(services: ServicesDep, store_id: StoreIdQuery = None) -> list[GamePublic]:
    """Games running now; with store_id, those that apply at that store (what the finder shows)."""
    merchant = None
    if store_id is not None:
        record = services.catalog.records.get(store_id)
        if record is None:
            raise NotFound(f"no open store with id {store_id}")
        merchant = record.merchant_id
    return await asyncio.to_thread(games.running_games, services.db, services.clock(), store_id, merchant)


@router.post("/v1/games/{game_id}/plays", status_code=201, response_model=None,
             responses={201: {"model": PlayResult}})
async def play_game(services: ServicesDep, principal: PrincipalDep, game_id: RowIdPath,
                    idempotency_key: IdempotencyKeyHeader = None) -> Response:
    """Play once (users): the draw is the server's; the page only reveals it."""
    user = require_role(principal, "user")
    await services.limits.check("claim", user.subject)
    outcome = await asyncio.to_thread(games.play, services.db, game_id, user.subject, idempotency_key,
                                      services.clock(), services.settings.member_tiers)
    return outcome_response(outcome)


@router.get("/v1/games/{game_id}/plays", response_model=GameAudit)
async def game_audit(services: ServicesDep, principal: PrincipalDep, game_id: RowIdPath) -> GameAudit:
    """The audit of a game's plays for its owner: counts by outcome, each prize's stock left."""
    return await asyncio.to_thread(games.audit, services.db, principal, game_id)
