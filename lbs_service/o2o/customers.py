"""What the O2O side knows about a customer that proximity decisions read, loaded in one go.

A worker loads a customer when their socket opens (or their first fix needs a decision) and keeps
it until a commit that changes it is announced (invalidation.py): consent to location marketing,
quiet hours and time zone, promotions already sent (for daily caps), coupons held, orders waiting
for pickup, and the member's facts (visits per merchant for merchant tiers, tags for audiences).
Consent and preferences are written here too, so their changes are announced like every other.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lbs_service.hours import parse_timezone
from lbs_service.invalidation import touch_customer
from lbs_service.o2o.audiences import MemberFacts, member_facts
from lbs_service.o2o.campaigns import CampaignView
from lbs_service.responses import ConsentEntry, ConsentPublic
from lbs_service.statuses import WAITING_FOR_PICKUP, CouponStatus, OrderStatus
from lbs_service.storage.db import Database
from lbs_service.storage.models import (
    Campaign,
    ConsentRecord,
    Coupon,
    Order,
    OrderLine,
    PromotionSent,
    Sku,
    UserPreferences,
)

LOCATION_MARKETING = "location_marketing"
DEFAULT_TIMEZONE = "Asia/Shanghai"


@dataclass(frozen=True)
class WaitingOrder:
    order_id: int
    store_id: int
    status: OrderStatus
    items: tuple[tuple[str, int], ...]  # (name, quantity)

    def public(self) -> dict[str, Any]:
        return {"order_id": self.order_id, "status": self.status,
                "items": [{"name": name, "quantity": quantity} for name, quantity in self.items]}


@dataclass
class Customer:
    """One customer as proximity decisions see them: consent, quiet hours, caps, coupons, orders, tier."""
    user_id: str
    consented: bool
    zone: ZoneInfo
    quiet: tuple[time, time] | None
    sent: dict[str, Counter[int]]  # local day -> store id -> promotions sent
    held: list[CampaignView]  # campaigns whose coupon the customer holds, unredeemed
    orders: dict[int, list[WaitingOrder]]  # store id -> orders waiting there
    facts: MemberFacts  # tier, tags and recent visits: what audiences and merchant tiers read
    loaded_at: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def local(self, at: datetime) -> datetime:
        return at.astimezone(self.zone)

    def in_quiet_hours(self, at: datetime) -> bool:
        return in_quiet_hours(self.quiet, self.zone, at)

    def sent_on(self, day: str) -> Counter[int]:
        return self.sent.setdefault(day, Counter())


def in_quiet_hours(quiet: tuple[time, time] | None, zone: ZoneInfo, at: datetime) -> bool:
    """Is `at` within the user's quiet hours (local times, possibly across midnight)?"""
    if quiet is None:
        return False
    start, end = quiet
    now = at.astimezone(zone).time()
    return start <= now < end if start <= end else now >= start or now < end


def load(session: Session, user_id: str, at: datetime, thresholds: dict[str, int]) -> Customer:
    """Everything about one customer that decisions read (a handful of small queries)."""
    zone, quiet = _preferences(session, user_id)
    return Customer(user_id, _consented(session, user_id), zone, quiet, _sent(session, user_id, at, zone),
                    _held(session, user_id, at), _orders(session, user_id),
                    member_facts(session, user_id, thresholds))


def may_market(session: Session, user_id: str, at: datetime) -> bool:
    """May an offer reach this user now: consent to location marketing, outside their quiet hours."""
    zone, quiet = _preferences(session, user_id)
    return _consented(session, user_id) and not in_quiet_hours(quiet, zone, at)


def _consented(session: Session, user_id: str) -> bool:
    consent = session.scalar(select(ConsentRecord.granted).where(
        ConsentRecord.user_id == user_id, ConsentRecord.purpose == LOCATION_MARKETING)
        .order_by(ConsentRecord.id.desc()).limit(1))
    return bool(consent)


def _preferences(session: Session, user_id: str) -> tuple[ZoneInfo, tuple[time, time] | None]:
    prefs = session.get(UserPreferences, user_id)
    zone = parse_timezone(prefs.timezone if prefs else DEFAULT_TIMEZONE)
    quiet = None
    if prefs is not None and prefs.quiet_start and prefs.quiet_end:
        quiet = (time.fromisoformat(prefs.quiet_start), time.fromisoformat(prefs.quiet_end))
    return zone, quiet


def _sent(session: Session, user_id: str, at: datetime, zone: ZoneInfo) -> dict[str, Counter[int]]:
    today = at.astimezone(zone).date()
    days = [(today + timedelta(days=d)).isoformat() for d in (-1, 0, 1)]
    rows = session.execute(select(PromotionSent.local_day, PromotionSent.store_id, func.count())
                           .where(PromotionSent.user_id == user_id, PromotionSent.local_day.in_(days))
                           .group_by(PromotionSent.local_day, PromotionSent.store_id)).all()
    sent: dict[str, Counter[int]] = defaultdict(Counter)
    for day, store_id, count in rows:
        sent[day][store_id] += count
    return dict(sent)


def _held(session: Session, user_id: str, at: datetime) -> list[CampaignView]:
    campaigns = session.scalars(select(Campaign).join(Coupon, Coupon.campaign_id == Campaign.id)
                                .where(Coupon.user_id == user_id, Coupon.status == CouponStatus.CLAIMED,
                                       Campaign.ends_at > at).order_by(Coupon.id))
    return [CampaignView.of(c) for c in campaigns]


def _orders(session: Session, user_id: str) -> dict[int, list[WaitingOrder]]:
    orders = session.execute(select(Order.id, Order.store_id, Order.status).where(
        Order.user_id == user_id, Order.status.in_(WAITING_FOR_PICKUP)).order_by(Order.id)).all()
    if not orders:
        return {}
    lines = session.execute(select(OrderLine.order_id, Sku.name, OrderLine.quantity)
                            .join(Sku, Sku.id == OrderLine.sku_id)
                            .where(OrderLine.order_id.in_([o.id for o in orders]))).all()
    items: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for order_id, name, quantity in lines:
        items[order_id].append((name, quantity))
    waiting: dict[int, list[WaitingOrder]] = defaultdict(list)
    for order_id, store_id, status in orders:
        waiting[store_id].append(WaitingOrder(order_id, store_id, status, tuple(items[order_id])))
    return dict(waiting)


def record_consent(db: Database, user_id: str, granted: bool, at: datetime) -> None:
    with db.transaction() as session:
        session.add(ConsentRecord(user_id=user_id, purpose=LOCATION_MARKETING, granted=granted, recorded_at=at))
        touch_customer(session, user_id)


def consent_state(db: Database, user_id: str) -> ConsentPublic:
    with db.session() as session:
        rows = session.execute(
            select(ConsentRecord.granted, ConsentRecord.recorded_at)
            .where(ConsentRecord.user_id == user_id, ConsentRecord.purpose == LOCATION_MARKETING)
            .order_by(ConsentRecord.id)
        ).all()
    history = [ConsentEntry(location_marketing=g, recorded_at=at.isoformat()) for g, at in rows]
    return ConsentPublic(location_marketing=bool(rows and rows[-1][0]), history=history)


def save_preferences(db: Database, user_id: str, timezone: str, quiet_start: str | None,
                     quiet_end: str | None) -> None:
    with db.transaction() as session:
        session.merge(UserPreferences(user_id=user_id, timezone=timezone, quiet_start=quiet_start,
                                      quiet_end=quiet_end))
        touch_customer(session, user_id)
