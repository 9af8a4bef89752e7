"""The member side: an append-only event log, a tier from configurable visit thresholds, and the
context a store's staff see when the member approaches."""

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from h3.api import basic_int as h3i
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lbs_service.proximity.rules import targets
from lbs_service.records import StoreRecord
from lbs_service.storage.models import Campaign, Coupon, MemberEvent, Order, Store

VISIT_KINDS = ("redeem", "pickup")
HOME_AREA_RESOLUTION = 7


def record_event(session: Session, user_id: str, kind: str, store_id: int | None = None,
                 data: dict[str, Any] | None = None) -> None:
    session.add(MemberEvent(user_id=user_id, store_id=store_id, kind=kind, data=data or {}, at=datetime.now(UTC)))


def visits(session: Session, user_id: str) -> int:
    query = select(func.count()).where(MemberEvent.user_id == user_id, MemberEvent.kind.in_(VISIT_KINDS))
    return int(session.scalar(query) or 0)


def tier_for(visit_count: int, thresholds: dict[str, int]) -> str:
    """The highest tier whose visit threshold is reached; thresholds are configuration, not code."""
    reached = [(minimum, name) for name, minimum in thresholds.items() if visit_count >= minimum]
    return max(reached)[1] if reached else "member"


def arrival_contexts(session: Session, user_id: str, stores: list[StoreRecord], thresholds: dict[str, int],
                     district_of: Callable[[StoreRecord], str | None]) -> dict[int, dict[str, Any]]:
    """What each store's staff prepare for: the member's tier, the coupons they hold that are valid
    there, and their orders waiting there. Three queries for all the stores one fix enters."""
    now = datetime.now(UTC)
    held = session.execute(
        select(Coupon.id, Campaign)
        .join(Campaign, Campaign.id == Coupon.campaign_id)
        .where(Coupon.user_id == user_id, Coupon.status == "claimed", Campaign.ends_at > now)
        .order_by(Coupon.id)
    ).all()
    tier = tier_for(visits(session, user_id), thresholds)
    orders = session.scalars(select(Order).where(Order.user_id == user_id, Order.store_id.in_([s.id for s in stores]),
                                                 Order.status.in_(("paid", "ready"))).order_by(Order.id)).all()
    contexts = {}
    for store in stores:
        district = district_of(store) if any(c.level == "region" for _, c in held) else None
        contexts[store.id] = {
            "tier": tier,
            "coupons": [{"coupon_id": cid, "campaign_id": c.id, "title": c.title} for cid, c in held
                        if targets(c, store, district)],
            "orders": [{"order_id": o.id, "status": o.status, "total_cents": o.total_cents} for o in orders
                       if o.store_id == store.id],
        }
    return contexts


def profile(session: Session, user_id: str, thresholds: dict[str, int]) -> dict[str, Any]:
    """Tier and tags derived from the member's events: favourite categories, and a home area no
    finer than an H3 res-7 cell (about 5 km²), from the stores they use most."""
    rows = session.execute(
        select(Store.category, Store.h3_r9).join(MemberEvent, MemberEvent.store_id == Store.id)
        .where(MemberEvent.user_id == user_id)
    ).all()
    categories = Counter(category for category, _ in rows)
    areas = Counter(h3i.cell_to_parent(cell, HOME_AREA_RESOLUTION) for _, cell in rows)
    count = visits(session, user_id)
    return {
        "tier": tier_for(count, thresholds),
        "visits": count,
        "tags": {
            "favourite_categories": [c for c, _ in sorted(categories.items(), key=lambda kv: (-kv[1], kv[0]))[:3]],
            "home_area": h3i.int_to_str(areas.most_common(1)[0][0]) if areas else None,
        },
    }
