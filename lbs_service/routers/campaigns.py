"""Campaigns at four levels (platform, region, merchant, store); who may create one follows its level."""

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select

from lbs_service.auth import Principal, require_role
from lbs_service.deps import PrincipalDep, ServicesDep
from lbs_service.errors import Forbidden, InvalidInput, NotFound
from lbs_service.o2o import coupons
from lbs_service.proximity.rules import active_campaigns, targets
from lbs_service.schemas import Timestamp
from lbs_service.services import Services
from lbs_service.storage.models import Campaign, Store

router = APIRouter(prefix="/v1/campaigns", tags=["campaigns"])


class CampaignCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    title: Annotated[str, Field(min_length=1, max_length=200)]
    level: Literal["platform", "region", "merchant", "store"]
    store_ids: Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=1, max_length=10_000)] | None = None
    merchant_id: Annotated[int, Field(ge=1)] | None = None
    district: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    starts_at: Timestamp
    ends_at: Timestamp
    budget: Annotated[int, Field(ge=1)] | None = None
    # One coupon per user per campaign, enforced by a unique constraint: the only limit offered.
    per_user_limit: Annotated[int, Field(ge=1, le=1)] = 1
    priority: Annotated[int, Field(ge=-1000, le=1000)] = 0

    @model_validator(mode="after")
    def _level_fields(self) -> "CampaignCreate":
        needed = {"region": "district", "merchant": "merchant_id", "store": "store_ids"}.get(self.level)
        if needed and getattr(self, needed) is None:
            raise ValueError(f"a {self.level} campaign needs {needed}")
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


def public(campaign: Campaign) -> dict[str, Any]:
    return {
        "id": campaign.id,
        "title": campaign.title,
        "level": campaign.level,
        "merchant_id": campaign.merchant_id,
        "store_ids": campaign.store_ids,
        "district": campaign.district,
        "starts_at": campaign.starts_at.isoformat(),
        "ends_at": campaign.ends_at.isoformat(),
        "budget": campaign.budget,
        "per_user_limit": campaign.per_user_limit,
        "priority": campaign.priority,
        "claimed": campaign.claimed,
    }


def _check_scope(services: Services, principal: Principal, body: CampaignCreate) -> None:
    """Operators create any level; merchants their own merchant and its stores; staff their own store."""
    if principal.role == "operator":
        return
    if principal.role == "merchant" and body.level == "merchant" and body.merchant_id == principal.merchant_id:
        return
    if body.level == "store" and body.store_ids:
        with services.db.session() as session:
            rows = session.execute(select(Store.id, Store.merchant_id).where(Store.id.in_(body.store_ids))).all()
            owners = {store_id: merchant_id for store_id, merchant_id in rows}
        if (
            principal.role == "merchant"
            and set(owners.values()) == {principal.merchant_id}
            and len(owners) == len(set(body.store_ids))
        ):
            return
        if principal.role == "staff" and body.store_ids == [principal.store_id]:
            return
    raise Forbidden(f"a {principal.role} token cannot create this {body.level} campaign")


def _create(services: Services, principal: Principal, body: CampaignCreate) -> Campaign:
    _check_scope(services, principal, body)
    with services.db.transaction() as session:
        if body.store_ids:
            found = set(session.scalars(select(Store.id).where(Store.id.in_(body.store_ids))))
            missing = sorted(set(body.store_ids) - found)
            if missing:
                raise InvalidInput(f"no such stores: {missing[:10]}")
        campaign = Campaign(**body.model_dump(), created_by=f"{principal.role}:{principal.subject}")
        session.add(campaign)
        session.flush()
        return campaign


@router.post("", status_code=201)
async def create_campaign(services: ServicesDep, principal: PrincipalDep, body: CampaignCreate) -> dict[str, Any]:
    return public(await asyncio.to_thread(_create, services, principal, body))


def _list(services: Services, store_id: int | None) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    with services.db.session() as session:
        campaigns = active_campaigns(session, now)
        if store_id is None:
            return [public(c) for c in campaigns]
        if session.get(Store, store_id) is None:
            raise NotFound(f"no store with id {store_id}")
    record = services.catalog.records.get(store_id)
    if record is None:
        return []  # closed for good: no campaign applies
    district = services.catalog.district_of(record)
    return [public(c) for c in campaigns if targets(c, record, district)]


@router.get("")
async def list_campaigns(
    services: ServicesDep, store_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None
) -> list[dict[str, Any]]:
    """Campaigns running now; with store_id, those that apply at that store."""
    return await asyncio.to_thread(_list, services, store_id)


@router.post("/{campaign_id}/claim", status_code=201)
async def claim_coupon(
    services: ServicesDep, principal: PrincipalDep, campaign_id: Annotated[int, Path(ge=1, le=2**63 - 1)]
) -> dict[str, Any]:
    """Claim this campaign's coupon (users only; one each, while the budget lasts)."""
    user = require_role(principal, "user")
    await services.limits.check("claim", user.subject)
    coupon = await asyncio.to_thread(coupons.claim, services.db, campaign_id, user.subject)
    return coupons.public(coupon)

