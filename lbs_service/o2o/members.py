"""The member side: an append-only event log, and the tier and tags derived from it."""

from collections import Counter
from datetime import datetime
from typing import Any

from h3.api import basic_int as h3i
from sqlalchemy import select
from sqlalchemy.orm import Session

from lbs_service.invalidation import touch_customer
from lbs_service.o2o.customers import VISIT_KINDS, tier_for, visit_count
from lbs_service.responses import MemberProfile, MemberTags
from lbs_service.storage.db import Database
from lbs_service.storage.models import MemberEvent, Store

HOME_AREA_RESOLUTION = 7


def record_event(session: Session, user_id: str, kind: str, store_id: int | None, data: dict[str, Any] | None,
                 at: datetime) -> None:
    session.add(MemberEvent(user_id=user_id, store_id=store_id, kind=kind, data=data or {}, at=at))
    if kind in VISIT_KINDS:  # a visit counts towards tiers: workers drop what they cached of the member
        touch_customer(session, user_id)


def member_profile(db: Database, user_id: str, thresholds: dict[str, int]) -> MemberProfile:
    with db.session() as session:
        return profile(session, user_id, thresholds)


def profile(session: Session, user_id: str, thresholds: dict[str, int]) -> MemberProfile:
    """Tier and tags derived from the member's events: favourite categories, and a home area no
    finer than an H3 res-7 cell (about 5 km²), from the stores they use most."""
    rows = session.execute(
        select(Store.category, Store.h3_r9).join(MemberEvent, MemberEvent.store_id == Store.id)
        .where(MemberEvent.user_id == user_id)
    ).all()
    categories = Counter(category for category, _ in rows)
    areas = Counter(h3i.cell_to_parent(cell, HOME_AREA_RESOLUTION) for _, cell in rows)
    count = visit_count(session, user_id)
    return MemberProfile(
        tier=tier_for(count, thresholds),
        visits=count,
        tags=MemberTags(
            favourite_categories=[c for c, _ in sorted(categories.items(), key=lambda kv: (-kv[1], kv[0]))[:3]],
            home_area=h3i.int_to_str(areas.most_common(1)[0][0]) if areas else None,
        ),
    )
