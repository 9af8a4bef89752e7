"""Campaigns at four levels; who may create one follows its level (o2o/campaigns.py)."""

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, model_validator

from lbs_service.auth import require_role
from lbs_service.deps import PrincipalDep, ServicesDep
from lbs_service.errors import NotFound
from lbs_service.fields import INT32_MAX, Instant, Label, Name, RowId, StoreId
from lbs_service.o2o import campaigns, coupons
from lbs_service.responses import CampaignPublic, CouponPublic
from lbs_service.routers.params import RowIdPath, StoreIdQuery
from lbs_service.services import Services
from lbs_service.statuses import CampaignLevel

router = APIRouter(prefix="/v1/campaigns", tags=["campaigns"])


class CampaignCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    title: Name
    level: Literal["platform", "region", "merchant", "store"]
    store_ids: Annotated[list[StoreId], Field(min_length=1, max_length=10_000)] | None = None
    merchant_id: RowId | None = None
    district: Label | None = None
    starts_at: Instant
    ends_at: Instant
    budget: Annotated[int, Field(ge=1, le=INT32_MAX)] | None = None
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

    def to_domain(self) -> campaigns.NewCampaign:
        return campaigns.NewCampaign(**{**self.model_dump(), "level": CampaignLevel(self.level)})


@router.post("", status_code=201, response_model=CampaignPublic)
async def create_campaign(services: ServicesDep, principal: PrincipalDep, body: CampaignCreate) -> CampaignPublic:
    created = await asyncio.to_thread(campaigns.create, services.db, principal, body.to_domain())
    return campaigns.public(created)


def _list(services: Services, store_id: int | None) -> list[CampaignPublic]:
    now = services.clock()
    record = None
    if store_id is not None:
        if not services.stores.exists(store_id):
            raise NotFound(f"no store with id {store_id}")
        record = services.catalog.records.get(store_id)
        if record is None:
            return []  # closed for good: no campaign applies
    district = services.catalog.district_of(record) if record is not None else None
    return campaigns.listed_at_store(services.db, now, record, district)


@router.get("", response_model=list[CampaignPublic])
async def list_campaigns(services: ServicesDep, store_id: StoreIdQuery = None) -> list[CampaignPublic]:
    """Campaigns running now; with store_id, those that apply at that store."""
    return await asyncio.to_thread(_list, services, store_id)


@router.post("/{campaign_id}/claim", status_code=201, response_model=CouponPublic)
async def claim_coupon(services: ServicesDep, principal: PrincipalDep, campaign_id: RowIdPath) -> CouponPublic:
    """Claim this campaign's coupon (users only; one each, while the budget lasts)."""
    user = require_role(principal, "user")
    await services.limits.check("claim", user.subject)
    coupon = await asyncio.to_thread(coupons.claim, services.db, campaign_id, user.subject, services.clock())
    return coupons.public(coupon)
