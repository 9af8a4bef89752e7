"""Campaigns at four levels (platform, region, merchant, store): who may create which, and where
each one applies. Targeting lives here, once, for push arbitration, claims, redemptions and lists."""

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from lbs_service.auth import Principal
from lbs_service.errors import Forbidden, InvalidInput, NotFound
from lbs_service.invalidation import touch_campaigns
from lbs_service.o2o.audiences import Audience, audience_of
from lbs_service.records import StoreRecord
from lbs_service.responses import AudiencePublic, CampaignPublic, OfferPublic
from lbs_service.statuses import CampaignLevel
from lbs_service.storage.db import Database
from lbs_service.storage.models import Campaign, Store


@dataclass(frozen=True)
class CampaignView:
    """A campaign as workers cache it for decisions (not bound to a database session)."""

    id: int
    title: str
    level: str
    merchant_id: int | None
    store_ids: frozenset[int]
    district: str | None
    starts_at: datetime
    ends_at: datetime
    budget: int | None
    claimed: int
    priority: int
    audience: Audience | None = None
    sold_for_points: bool = False  # bought in exchange for points: never pushed as a free offer

    @classmethod
    def of(cls, campaign: Campaign) -> "CampaignView":
        return cls(campaign.id, campaign.title, campaign.level, campaign.merchant_id,
                   frozenset(campaign.store_ids or ()), campaign.district, campaign.starts_at, campaign.ends_at,
                   campaign.budget, campaign.claimed, campaign.priority, audience_of(campaign.audience),
                   campaign.points_price is not None)

    def running_at(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at

    @property
    def has_budget(self) -> bool:
        return self.budget is None or self.claimed < self.budget


class Targetable(Protocol):
    """What targeting reads of a campaign (a Campaign row or a CampaignView)."""

    @property
    def level(self) -> str: ...
    @property
    def merchant_id(self) -> int | None: ...
    @property
    def district(self) -> str | None: ...
    @property
    def store_ids(self) -> Any: ...


@dataclass(frozen=True)
class NewCampaign:
    title: str
    level: CampaignLevel
    starts_at: datetime
    ends_at: datetime
    store_ids: list[int] | None = None
    merchant_id: int | None = None
    district: str | None = None
    budget: int | None = None
    per_user_limit: int = 1
    priority: int = 0
    offer: dict[str, Any] | None = None
    audience: dict[str, Any] | None = None
    points_price: int | None = None


def public(campaign: Campaign) -> CampaignPublic:
    return CampaignPublic(
        id=campaign.id,
        title=campaign.title,
        level=CampaignLevel(campaign.level),
        merchant_id=campaign.merchant_id,
        store_ids=campaign.store_ids,
        district=campaign.district,
        starts_at=campaign.starts_at.isoformat(),
        ends_at=campaign.ends_at.isoformat(),
        budget=campaign.budget,
        per_user_limit=campaign.per_user_limit,
        priority=campaign.priority,
        claimed=campaign.claimed,
        offer=OfferPublic(**campaign.offer) if campaign.offer else None,
        audience=AudiencePublic(**campaign.audience) if campaign.audience else None,
        points_price=campaign.points_price,
    )


def active_campaigns(session: Session, at: datetime) -> list[Campaign]:
    query = select(Campaign).where(Campaign.starts_at <= at, Campaign.ends_at > at)
    return list(session.scalars(query.order_by(Campaign.priority.desc(), Campaign.id)))


class StoreRef(Protocol):
    """What targeting reads of a store (a StoreRecord or a Store row)."""

    @property
    def id(self) -> int: ...
    @property
    def merchant_id(self) -> int: ...


def targets(campaign: Targetable, store: StoreRef, district: str | None) -> bool:
    """Whether the campaign applies at this store (`district`: the polygon the store stands in)."""
    if campaign.level == CampaignLevel.PLATFORM:
        return True
    if campaign.level == CampaignLevel.MERCHANT:
        return campaign.merchant_id == store.merchant_id
    if campaign.level == CampaignLevel.STORE:
        return store.id in (campaign.store_ids or [])
    return campaign.level == CampaignLevel.REGION and district is not None and campaign.district == district


def _owners(session: Session, store_ids: Sequence[int]) -> dict[int, int]:
    rows = session.execute(select(Store.id, Store.merchant_id).where(Store.id.in_(store_ids))).all()
    return {store_id: merchant_id for store_id, merchant_id in rows}


def check_scope(principal: Principal, new: NewCampaign, owners: dict[int, int]) -> None:
    """Operators create any level; merchants their own merchant and its stores; staff their own store."""
    if principal.role == "operator":
        return
    own_merchant = new.merchant_id == principal.merchant_id
    if principal.role == "merchant" and new.level == CampaignLevel.MERCHANT and own_merchant:
        return
    if new.level == CampaignLevel.STORE and new.store_ids:
        wanted = set(new.store_ids)
        if principal.role == "merchant" and len(owners) == len(wanted) and set(owners.values()) == {
                principal.merchant_id}:
            return
        if principal.role == "staff" and wanted == {principal.store_id}:
            return
    raise Forbidden(f"a {principal.role} token cannot create this {new.level} campaign")


def create(db: Database, principal: Principal, new: NewCampaign) -> Campaign:
    with db.transaction() as session:
        owners = _owners(session, new.store_ids) if new.store_ids else {}
        check_scope(principal, new, owners)
        if new.store_ids:
            missing = sorted(set(new.store_ids) - set(owners))
            if missing:
                raise InvalidInput(f"no such stores: {missing[:10]}")
        fields = asdict(new)
        if new.store_ids is not None:
            fields["store_ids"] = sorted(set(new.store_ids))
        campaign = Campaign(**fields, created_by=f"{principal.role}:{principal.subject}")
        session.add(campaign)
        session.flush()
        touch_campaigns(session)
        return campaign


def current_and_upcoming(session: Session, at: datetime, horizon: timedelta) -> list[CampaignView]:
    """Campaigns running at `at` or starting within `horizon`: what a worker caches."""
    query = select(Campaign).where(Campaign.starts_at <= at + horizon, Campaign.ends_at > at)
    return [CampaignView.of(c) for c in session.scalars(query.order_by(Campaign.priority.desc(), Campaign.id))]


def listed_at_store(db: Database, at: datetime, store: StoreRecord | None, district: str | None
                    ) -> list[CampaignPublic]:
    """Campaigns running at `at` (at that store, with one), as the API lists them."""
    with db.session() as session:
        return [public(c) for c in running_at_store(session, at, store, district)]


def running_at_store(session: Session, at: datetime, store: StoreRecord | None, district: str | None) -> list[Campaign]:
    """Campaigns running at `at`; with a store, only those that apply there (a closed store has none)."""
    campaigns = active_campaigns(session, at)
    if store is None:
        return campaigns
    return [c for c in campaigns if targets(c, store, district)]


def belongs_to_merchant(session: Session, campaign: Campaign, merchant_id: int) -> bool:
    """The merchant's own campaign: at its merchant level, or on its stores only."""
    if campaign.merchant_id == merchant_id:
        return True
    owners = _owners(session, campaign.store_ids) if campaign.store_ids else {}
    return bool(owners) and set(owners.values()) == {merchant_id}


def owned_campaign(db: Database, principal: Principal, campaign_id: int) -> Campaign:
    """The campaign, for the operator or the merchant it belongs to; to anyone else it does not
    exist (404)."""
    with db.session() as session:
        campaign = session.get(Campaign, campaign_id)
        mine = campaign is not None and (principal.role == "operator" or (
            principal.role == "merchant" and principal.merchant_id is not None
            and belongs_to_merchant(session, campaign, principal.merchant_id)))
    if campaign is None or not mine:
        raise NotFound(f"no campaign {campaign_id} of yours")
    return campaign
