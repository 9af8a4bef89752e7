"""The member side: an append-only event log, and the tier and tags derived from it."""

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from lbs_service.invalidation import touch_customer
from lbs_service.o2o.audiences import VISIT_KINDS, member_facts
from lbs_service.responses import MemberProfile, MemberTags
from lbs_service.storage.db import Database
from lbs_service.storage.models import MemberEvent


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
    facts = member_facts(session, user_id, thresholds)
    return MemberProfile(tier=facts.tier, visits=facts.visits,
                         tags=MemberTags(favourite_categories=list(facts.favourite_categories),
                                         home_area=facts.home_area))
