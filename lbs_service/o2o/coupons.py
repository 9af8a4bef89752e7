"""Claiming a campaign's coupon: at most one per user per campaign, never past the budget.

Both limits hold under any concurrency because the database enforces them: the budget by a
conditional increment (only one claim can take the last unit), the one-per-user rule by a
unique constraint; either failing rolls the whole claim back.
"""

import secrets
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lbs_service.errors import Conflict, NotFound
from lbs_service.invalidation import touch_customer
from lbs_service.o2o.audiences import require_audience
from lbs_service.o2o.members import record_event
from lbs_service.responses import CouponPublic
from lbs_service.statuses import CouponStatus
from lbs_service.storage.db import Database, session_insert
from lbs_service.storage.models import Campaign, Coupon

_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud at a till


def new_code() -> str:
    """C + 9 characters: never confused with a pickup code (P + 9) at the till."""
    return "C" + "".join(secrets.choice(_ALPHABET) for _ in range(9))


def public(coupon: Coupon) -> CouponPublic:
    return CouponPublic(id=coupon.id, code=coupon.code, campaign_id=coupon.campaign_id,
                        status=CouponStatus(coupon.status),
                        claimed_at=coupon.claimed_at.isoformat() if coupon.claimed_at else None)


def issue(session: Session, campaign_id: int, user_id: str, now: datetime, source: str = "claim") -> Coupon:
    """Give the user this campaign's coupon inside the caller's transaction: while it runs and its
    budget lasts (409 otherwise), one per user (409 for a second: checked before anything is taken,
    and by the unique key for a concurrent second, whose 409 rolls the caller back)."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"no campaign with id {campaign_id}")
    if session.scalar(select(Coupon.id).where(Coupon.campaign_id == campaign_id, Coupon.user_id == user_id)):
        raise Conflict("you already hold this campaign's coupon")
    taken = session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.starts_at <= now, Campaign.ends_at > now)
        .where((Campaign.budget.is_(None)) | (Campaign.claimed < Campaign.budget))
        .values(claimed=Campaign.claimed + 1)
    ).rowcount  # type: ignore[attr-defined]
    if taken != 1:
        raise Conflict("this campaign is not running or its coupons are all claimed")
    coupon_id = session.scalar(session_insert(session)(Coupon).values(
        campaign_id=campaign_id, user_id=user_id, code=new_code(), status=CouponStatus.CLAIMED, claimed_at=now)
        .on_conflict_do_nothing(index_elements=["campaign_id", "user_id"]).returning(Coupon.id))
    if coupon_id is None:  # a concurrent claim, exchange or play took it first
        raise Conflict("you already hold this campaign's coupon")
    coupon = session.get(Coupon, coupon_id)
    assert coupon is not None
    record_event(session, user_id, "claim", None,
                 {"coupon_id": coupon.id, "campaign_id": campaign_id, "source": source}, now)
    touch_customer(session, user_id)
    return coupon


def claim(db: Database, campaign_id: int, user_id: str, now: datetime, tiers: dict[str, int]) -> Coupon:
    """Claim a campaign's coupon: only a member of its audience (a campaign sold for points is
    bought with them, not claimed)."""
    with db.transaction() as session:
        campaign = session.get(Campaign, campaign_id)
        if campaign is None:
            raise NotFound(f"no campaign with id {campaign_id}")
        if campaign.points_price is not None:
            raise Conflict(f"this coupon is exchanged for {campaign.points_price} points, not claimed")
        require_audience(session, campaign.audience, user_id, now, tiers)
        return issue(session, campaign_id, user_id, now)


def own_coupon(db: Database, coupon_id: int, user_id: str) -> Coupon:
    """The user's coupon; someone else's is not disclosed (404, as if it did not exist)."""
    with db.session() as session:
        coupon = session.get(Coupon, coupon_id)
    if coupon is None or coupon.user_id != user_id:
        raise NotFound(f"you hold no coupon {coupon_id}")
    return coupon


def coupons_of(db: Database, user_id: str) -> list[CouponPublic]:
    with db.session() as session:
        return [public(c) for c in session.scalars(select(Coupon).where(Coupon.user_id == user_id)
                                                   .order_by(Coupon.id))]
