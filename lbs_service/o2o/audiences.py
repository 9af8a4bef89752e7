"""Who a campaign is for: member tiers, tags (favourite categories, home area), and "visited a store
of merchant X / category Y in the last N days" - the cross-merchant targeting a portal sells.

Everything comes from the member event log, and only real visits count as visits (an `arrived`
visit, a redemption, a pickup: VISIT_KINDS), never a pass-by. An audience's size is told to a
merchant only when at least k people are in it, and never who they are.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from h3.api import basic_int as h3i
from sqlalchemy import select
from sqlalchemy.orm import Session

from lbs_service.errors import Forbidden
from lbs_service.storage.db import Database
from lbs_service.storage.models import MemberEvent, Store

VISIT_KINDS = ("visit", "redeem", "pickup")  # events that put the member in a store
HOME_AREA_RESOLUTION = 7  # about 5 km²: a home area, never a home
HISTORY_ROWS = 5_000  # facts look at the newest events only: enough to reach any tier, bounded
SIZE_MAX_USERS = 200_000  # an audience is sized over at most this many members (the answer says so)


def tier_for(visit_count: int, thresholds: dict[str, int]) -> str:
    """The highest tier whose visit threshold is reached; thresholds are configuration, not code."""
    reached = [(minimum, name) for name, minimum in thresholds.items() if visit_count >= minimum]
    return max(reached)[1] if reached else "member"


def tier_rank(tier: str, thresholds: dict[str, int]) -> int:
    return thresholds.get(tier, 0)


@dataclass(frozen=True)
class MemberFacts:
    """What audiences and tiers read of one member."""

    tier: str
    visits: int  # distinct store-days with a visit, a redemption or a pickup
    favourite_categories: tuple[str, ...]  # up to three, most used first
    home_area: str | None  # an H3 res-7 cell
    merchant_visits: Counter[int]  # merchant id -> visits in its stores
    recent_visits: tuple[tuple[int, str, int, datetime], ...]  # (merchant id, category, store id, at), newest first

    def with_visit(self, merchant_id: int, category: str, store_id: int, at: datetime,
                   thresholds: dict[str, int]) -> "MemberFacts":
        """These facts after one more visit (what a worker applies to the member it holds, so audiences
        of "visited ... in the last N days" see it before the next load)."""
        new_day = (merchant_id, store_id, at.date()) not in {(m, s, a.date()) for m, _, s, a in self.recent_visits}
        merchant_visits = Counter(self.merchant_visits)
        merchant_visits[merchant_id] += new_day
        visits = self.visits + new_day
        return MemberFacts(tier_for(visits, thresholds), visits, self.favourite_categories, self.home_area,
                           merchant_visits, ((merchant_id, category, store_id, at), *self.recent_visits)[:HISTORY_ROWS])


EventRow = tuple[int, str, int, str, int, datetime]  # merchant, category, h3 r9, kind, store id, at


def facts_from(rows: list[EventRow], thresholds: dict[str, int]) -> MemberFacts:
    """A member's facts from their events at stores, newest first."""
    categories = Counter(category for _, category, _, _, _, _ in rows)
    areas = Counter(h3i.cell_to_parent(cell, HOME_AREA_RESOLUTION) for _, _, cell, _, _, _ in rows)
    visits = [(merchant, category, store, at) for merchant, category, _, kind, store, at in rows
              if kind in VISIT_KINDS]
    days = {(merchant, store, at.date()) for merchant, _, store, at in visits}
    merchant_visits = Counter(merchant for merchant, _, _ in days)
    home = max(areas.items(), key=lambda kv: (kv[1], -kv[0]))[0] if areas else None
    return MemberFacts(
        tier=tier_for(len(days), thresholds), visits=len(days),
        favourite_categories=tuple(c for c, _ in sorted(categories.items(), key=lambda kv: (-kv[1], kv[0]))[:3]),
        home_area=h3i.int_to_str(home) if home is not None else None,
        merchant_visits=merchant_visits,
        recent_visits=tuple(visits))


def _event_rows(session: Session, user_ids: list[str] | None, limit: int | None) -> Any:
    query = (select(MemberEvent.user_id, Store.merchant_id, Store.category, Store.h3_r9, MemberEvent.kind,
                    MemberEvent.store_id, MemberEvent.at)
             .join(Store, Store.id == MemberEvent.store_id).order_by(MemberEvent.id.desc()))
    if user_ids is not None:
        query = query.where(MemberEvent.user_id.in_(user_ids))
    return session.execute(query.limit(limit) if limit else query)


def member_facts(session: Session, user_id: str, thresholds: dict[str, int]) -> MemberFacts:
    rows = [tuple(row[1:]) for row in _event_rows(session, [user_id], HISTORY_ROWS)]
    return facts_from(rows, thresholds)


@dataclass(frozen=True)
class Audience:
    """Every criterion named must hold (within one, any listed value will do)."""

    tiers: frozenset[str] | None = None
    favourite_categories: frozenset[str] | None = None
    home_areas: frozenset[str] | None = None
    visited_merchant_id: int | None = None
    visited_category: str | None = None
    visited_days: int = 30


def audience_of(stored: dict[str, Any] | None) -> Audience | None:
    if not stored:
        return None
    visited = stored.get("visited") or {}

    def members(name: str) -> frozenset[str] | None:
        return frozenset(stored[name]) if stored.get(name) else None

    return Audience(members("tiers"), members("favourite_categories"), members("home_areas"),
                    visited.get("merchant_id"), visited.get("category"), int(visited.get("days", 30)))


def matches(audience: Audience | None, facts: MemberFacts, at: datetime) -> bool:
    if audience is None:
        return True
    if audience.tiers is not None and facts.tier not in audience.tiers:
        return False
    if audience.favourite_categories is not None and not audience.favourite_categories & set(
            facts.favourite_categories):
        return False
    if audience.home_areas is not None and facts.home_area not in audience.home_areas:
        return False
    if audience.visited_merchant_id is None and audience.visited_category is None:
        return True
    since = at - timedelta(days=audience.visited_days)
    return any(since <= visited_at <= at
               and audience.visited_merchant_id in (None, merchant)
               and audience.visited_category in (None, category)
               for merchant, category, _, visited_at in facts.recent_visits)


def require_audience(session: Session, stored: dict[str, Any] | None, user_id: str, at: datetime,
                     thresholds: dict[str, int]) -> None:
    audience = audience_of(stored)
    if audience is not None and not matches(audience, member_facts(session, user_id, thresholds), at):
        raise Forbidden("this offer is for another audience")


@dataclass(frozen=True)
class AudienceSize:
    size: int | None  # None: fewer than k people (or none)
    suppressed: bool
    capped: bool  # more members than one sizing looks at: the size is a lower bound


def audience_size(db: Database, stored: dict[str, Any] | None, at: datetime, thresholds: dict[str, int],
                  k: int) -> AudienceSize:
    """How many members the audience holds now, told only from k people up."""
    audience = audience_of(stored)
    with db.session() as session:
        candidates = select(MemberEvent.user_id).where(MemberEvent.store_id.is_not(None))
        if audience is not None and (audience.visited_merchant_id is not None or audience.visited_category):
            # Only members with such a visit can be in it: the database narrows them down first.
            candidates = candidates.join(Store, Store.id == MemberEvent.store_id).where(
                MemberEvent.kind.in_(VISIT_KINDS), MemberEvent.at >= at - timedelta(days=audience.visited_days),
                MemberEvent.at <= at)
            if audience.visited_merchant_id is not None:
                candidates = candidates.where(Store.merchant_id == audience.visited_merchant_id)
            if audience.visited_category:
                candidates = candidates.where(Store.category == audience.visited_category)
        users = list(session.scalars(candidates.distinct().order_by(MemberEvent.user_id).limit(SIZE_MAX_USERS + 1)))
        capped = len(users) > SIZE_MAX_USERS
        users = users[:SIZE_MAX_USERS]
        by_user: dict[str, list[EventRow]] = {}
        for start in range(0, len(users), 1000):
            for user_id, *row in _event_rows(session, users[start:start + 1000], None):
                kept = by_user.setdefault(user_id, [])
                if len(kept) < HISTORY_ROWS:
                    kept.append(tuple(row))
    size = sum(matches(audience, facts_from(rows, thresholds), at) for rows in by_user.values())
    if size < k:
        return AudienceSize(None, True, capped)
    return AudienceSize(size, False, capped)
