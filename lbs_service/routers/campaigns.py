"""Campaigns at four levels; who may create one follows its level (o2o/campaigns.py)."""

import asyncio
from typing import Annotated, Literal

import h3
from fastapi import APIRouter
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from lbs_service.auth import require_role
from lbs_service.deps import PrincipalDep, ServicesDep
from lbs_service.errors import InvalidInput, NotFound
from lbs_service.fields import INT32_MAX, MAX_CENTS, Cents, Instant, Label, Name, RowId, StoreId
from lbs_service.o2o import audiences, campaigns, coupons
from lbs_service.o2o.audiences import HOME_AREA_RESOLUTION
from lbs_service.responses import AudienceSizePublic, CampaignPublic, CouponPublic
from lbs_service.routers.params import RowIdPath, StoreIdQuery
from lbs_service.services import Services
from lbs_service.statuses import CampaignLevel

router = APIRouter(prefix="/v1/campaigns", tags=["campaigns"])


class OfferBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    kind: Literal["percent", "amount"]
    value: Annotated[int, Field(ge=1, le=MAX_CENTS, description="whole percent (1..100) or cents off")]
    min_spend_cents: Cents = 0

    @model_validator(mode="after")
    def _percent_is_a_percentage(self) -> "OfferBody":
        if self.kind == "percent" and self.value > 100:
            raise ValueError("a percent offer takes 1..100 percent off")
        return self


class VisitedBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    merchant_id: RowId | None = None
    category: Label | None = None
    days: Annotated[int, Field(ge=1, le=366)] = 30

    @model_validator(mode="after")
    def _names_something(self) -> "VisitedBody":
        if self.merchant_id is None and self.category is None:
            raise ValueError("visited names a merchant_id, a category or both")
        return self


Labels = Annotated[list[Label], Field(min_length=1, max_length=50)]


def _home_area(cell: str) -> str:
    """Home areas are H3 cells of resolution 7, as the member profile names them."""
    if not h3.is_valid_cell(cell) or h3.get_resolution(cell) != HOME_AREA_RESOLUTION:
        raise ValueError(f"{cell} is not an H3 cell of resolution {HOME_AREA_RESOLUTION}")
    return cell


class AudienceBody(BaseModel):
    """Who the campaign is for: every criterion named must hold (any value listed within one)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    tiers: Labels | None = None
    favourite_categories: Labels | None = None
    home_areas: Annotated[list[Annotated[str, Field(min_length=15, max_length=15, pattern="^[0-9a-f]{15}$"),
                                         AfterValidator(_home_area)]],
                          Field(min_length=1, max_length=200, description="H3 res-7 cells")] | None = None
    visited: VisitedBody | None = None

    @model_validator(mode="after")
    def _names_something(self) -> "AudienceBody":
        if not any((self.tiers, self.favourite_categories, self.home_areas, self.visited)):
            raise ValueError("an audience names at least one criterion")
        return self


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
    offer: OfferBody | None = None
    audience: AudienceBody | None = None
    points_price: Annotated[int, Field(ge=1, le=INT32_MAX)] | None = None

    @model_validator(mode="after")
    def _level_fields(self) -> "CampaignCreate":
        needed = {"region": "district", "merchant": "merchant_id", "store": "store_ids"}.get(self.level)
        if needed and getattr(self, needed) is None:
            raise ValueError(f"a {self.level} campaign needs {needed}")
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if self.merchant_id is not None and self.level != "merchant":
            raise ValueError("merchant_id names the merchant of a merchant campaign only")
        return self

    def to_domain(self) -> campaigns.NewCampaign:
        fields = self.model_dump(exclude_none=False)
        fields["audience"] = self.audience.model_dump(exclude_none=True) if self.audience else None
        return campaigns.NewCampaign(**{**fields, "level": CampaignLevel(self.level)})


@router.post("", status_code=201, response_model=CampaignPublic)
async def create_campaign(services: ServicesDep, principal: PrincipalDep, body: CampaignCreate) -> CampaignPublic:
    known = {"member", *services.settings.member_tiers}
    unknown = sorted(set(body.audience.tiers or ()) - known) if body.audience else []
    if unknown:
        raise InvalidInput(f"no such tiers: {unknown} (the tiers are {sorted(known)})")
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
    coupon = await asyncio.to_thread(coupons.claim, services.db, campaign_id, user.subject, services.clock(),
                                   services.settings.member_tiers)
    return coupons.public(coupon)


@router.get("/{campaign_id}/audience", response_model=AudienceSizePublic)
async def audience_size(services: ServicesDep, principal: PrincipalDep, campaign_id: RowIdPath) -> AudienceSizePublic:
    """How many members the campaign's audience holds now (operator, or its merchant): told only from
    k people up, never who they are."""
    campaign = await asyncio.to_thread(campaigns.owned_campaign, services.db, principal, campaign_id)
    await services.limits.check("coverage", principal.subject)  # reads the event log: rate-limited
    k = services.settings.demand_min_users
    sized = await asyncio.to_thread(audiences.audience_size, services.db, campaign.audience, services.clock(),
                                    services.settings.member_tiers, k)
    return AudienceSizePublic(campaign_id=campaign_id, size=sized.size, k=k, capped=sized.capped)
