"""Whether a user gets an offer when entering stores' fences, and which one.

In order: marketing consent (separate, off until given), quiet hours in the user's own time
zone, then among the stores entered on this fix the open ones with an active campaign that has
budget left and whose coupon the user does not already hold unredeemed, minus those capped
(per user per store per day, per user per day). One offer per fix: the nearest such store, ties
by campaign priority. Every store left out gets a reason.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lbs_service.records import StoreRecord
from lbs_service.storage.models import Campaign, ConsentRecord, Coupon, PromotionSent, UserPreferences

LOCATION_MARKETING = "location_marketing"
DistrictOf = Callable[[StoreRecord], str | None]  # the district polygon a store stands in
DEFAULT_TIMEZONE = "Asia/Shanghai"


class Suppressed(StrEnum):
    NO_CONSENT = "no_consent"
    QUIET_HOURS = "quiet_hours"
    STORE_CLOSED = "store_closed"
    NO_CAMPAIGN = "no_campaign"
    BUDGET_SPENT = "budget_spent"
    CAP_STORE_DAY = "cap_store_day"
    CAP_USER_DAY = "cap_user_day"
    ARBITRATION = "arbitration"
    COUPON_HELD = "coupon_held"


@dataclass(frozen=True)
class Entered:
    store: StoreRecord
    distance_m: float


@dataclass(frozen=True)
class Offer:
    store: StoreRecord
    campaign: Campaign
    distance_m: float
    local_day: str


@dataclass(frozen=True)
class Caps:
    per_store_per_day: int = 1
    per_user_per_day: int = 3


def has_marketing_consent(session: Session, user_id: str) -> bool:
    latest = session.scalar(
        select(ConsentRecord.granted)
        .where(ConsentRecord.user_id == user_id, ConsentRecord.purpose == LOCATION_MARKETING)
        .order_by(ConsentRecord.id.desc())
        .limit(1)
    )
    return bool(latest)


def _in_quiet_hours(prefs: UserPreferences | None, local: datetime) -> bool:
    if prefs is None or not prefs.quiet_start or not prefs.quiet_end:
        return False
    start, end, now = time.fromisoformat(prefs.quiet_start), time.fromisoformat(prefs.quiet_end), local.time()
    return start <= now < end if start <= end else now >= start or now < end


def active_campaigns(session: Session, at: datetime) -> list[Campaign]:
    query = select(Campaign).where(Campaign.starts_at <= at, Campaign.ends_at > at)
    return list(session.scalars(query.order_by(Campaign.priority.desc(), Campaign.id)))


def targets(campaign: Campaign, store: StoreRecord, district: str | None) -> bool:
    if campaign.level == "platform":
        return True
    if campaign.level == "merchant":
        return campaign.merchant_id == store.merchant_id
    if campaign.level == "store":
        return store.id in (campaign.store_ids or [])
    return campaign.level == "region" and district is not None and campaign.district == district


def choose_offer(
    session: Session, user_id: str, entered: list[Entered], at: datetime, caps: Caps, district_of: DistrictOf
) -> tuple[Offer | None, list[tuple[int, Suppressed]]]:
    """The one offer for this fix (or none) and why every other entered store got none."""
    if not entered:
        return None, []
    everyone = [e.store.id for e in entered]
    if not has_marketing_consent(session, user_id):
        return None, [(s, Suppressed.NO_CONSENT) for s in everyone]
    prefs = session.get(UserPreferences, user_id)
    local = at.astimezone(ZoneInfo(prefs.timezone if prefs else DEFAULT_TIMEZONE))
    if _in_quiet_hours(prefs, local):
        return None, [(s, Suppressed.QUIET_HOURS) for s in everyone]
    day = local.date().isoformat()
    sent_today = dict(
        session.execute(
            select(PromotionSent.store_id, func.count())
            .where(PromotionSent.user_id == user_id, PromotionSent.local_day == day)
            .group_by(PromotionSent.store_id)
        ).all()
    )
    if sum(sent_today.values()) >= caps.per_user_per_day:
        return None, [(s, Suppressed.CAP_USER_DAY) for s in everyone]
    held = set(session.scalars(select(Coupon.campaign_id).where(Coupon.user_id == user_id,
                                                                 Coupon.status == "claimed")))
    campaigns = active_campaigns(session, at)
    suppressed: list[tuple[int, Suppressed]] = []
    candidates: list[tuple[float, int, Entered, Campaign]] = []
    for e in entered:
        district = district_of(e.store) if any(c.level == "region" for c in campaigns) else None
        targeting = [c for c in campaigns if targets(c, e.store, district)]
        with_budget = [c for c in targeting if c.budget is None or c.claimed < c.budget]
        not_held = [c for c in with_budget if c.id not in held]
        if not e.store.open_at(at):
            suppressed.append((e.store.id, Suppressed.STORE_CLOSED))
        elif not targeting:
            suppressed.append((e.store.id, Suppressed.NO_CAMPAIGN))
        elif not with_budget:
            suppressed.append((e.store.id, Suppressed.BUDGET_SPENT))
        elif not not_held:
            suppressed.append((e.store.id, Suppressed.COUPON_HELD))
        elif sent_today.get(e.store.id, 0) >= caps.per_store_per_day:
            suppressed.append((e.store.id, Suppressed.CAP_STORE_DAY))
        else:
            best = not_held[0]  # highest priority first
            candidates.append((e.distance_m, -best.priority, e, best))
    if not candidates:
        return None, suppressed
    candidates.sort(key=lambda c: (c[0], c[1], c[2].store.id))
    _, _, winner, campaign = candidates[0]
    suppressed += [(c[2].store.id, Suppressed.ARBITRATION) for c in candidates[1:]]
    return Offer(winner.store, campaign, winner.distance_m, day), suppressed
