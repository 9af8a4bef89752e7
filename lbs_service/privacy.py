"""A user's location data: what we hold about where they have been, to export it or erase it.

Held: the fence checkpoint (the last two accepted fixes, the stores they are inside, expiring
after LBS_FIX_RETENTION_S), the visits the member log derives from arrivals, the promotions pushed
because they were near a store, and demand rows (a salted hash per res-9 cell and day). Coupons,
orders and reviews are transactions the user made, not location data, and stay.
"""

from typing import Any

from sqlalchemy import delete, func, select

from geo_index.fences import Fix, UserFences
from lbs_service.analytics.demand import DemandRecorder
from lbs_service.storage.db import Database
from lbs_service.storage.models import DemandCell, MemberEvent, PromotionSent

LOCATION_EVENTS = ("arrival",)  # member events that exist only because of a fix


def _fix(fix: Fix | None) -> dict[str, float] | None:
    return None if fix is None else {"lat": fix.lat, "lng": fix.lng, "ts": fix.ts, "accuracy_m": fix.accuracy_m}


def fence_summary(state: UserFences | None) -> dict[str, Any] | None:
    if state is None:
        return None
    return {"last_fix": _fix(state.last), "previous_fix": _fix(state.previous),
            "inside_store_ids": sorted(state.inside)}


def location_rows(db: Database, demand: DemandRecorder, user_id: str) -> dict[str, Any]:
    with db.session() as session:
        arrivals = session.scalars(select(MemberEvent).where(
            MemberEvent.user_id == user_id, MemberEvent.kind.in_(LOCATION_EVENTS)).order_by(MemberEvent.id)).all()
        promotions = session.scalars(select(PromotionSent).where(PromotionSent.user_id == user_id)
                                     .order_by(PromotionSent.id)).all()
        demand_rows = session.execute(select(DemandCell.day, func.count()).where(
            DemandCell.user_hash == demand.user_hash(user_id)).group_by(DemandCell.day).order_by(DemandCell.day)).all()
    return {
        "arrivals": [{"store_id": e.store_id, "at": e.at.isoformat(), "data": e.data} for e in arrivals],
        "promotions": [{"store_id": p.store_id, "campaign_id": p.campaign_id, "sent_at": p.sent_at.isoformat()}
                       for p in promotions],
        "demand_cells_by_day": {day: count for day, count in demand_rows},
    }


def delete_location_rows(db: Database, demand: DemandRecorder, user_id: str) -> dict[str, int]:
    """Delete the rows; returns how many of each went. Daily promotion caps restart with them."""
    demand.forget(user_id)
    with db.transaction() as session:
        arrivals = session.execute(delete(MemberEvent).where(
            MemberEvent.user_id == user_id, MemberEvent.kind.in_(LOCATION_EVENTS))).rowcount  # type: ignore[attr-defined]
        promotions = session.execute(delete(PromotionSent).where(
            PromotionSent.user_id == user_id)).rowcount  # type: ignore[attr-defined]
        cells = session.execute(delete(DemandCell).where(
            DemandCell.user_hash == demand.user_hash(user_id))).rowcount  # type: ignore[attr-defined]
    return {"arrivals": int(arrivals), "promotions": int(promotions), "demand_cells": int(cells)}
