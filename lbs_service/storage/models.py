"""SQLAlchemy 2 models.

The PostGIS columns (a store's geography, a district's geometry) are GeoAlchemy2 columns generated
by the database from the plain ones, so they can never disagree with them. They exist on
PostgreSQL only (the migrations add them there): they are deferred and raise if loaded by
accident, so the very same models run on the embedded SQLite file, which has no such columns.
A subquery over the whole entity (`select(Store).subquery()`, `query(Store).count()`) would name
them: count or select columns instead.
"""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from geoalchemy2 import Geography, Geometry
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from lbs_service.statuses import (
    CampaignLevel,
    CouponStatus,
    OrderStatus,
    PaymentKind,
    PushKind,
    PushState,
    StoreStatus,
    VisitKind,
)

# SQLite only auto-increments INTEGER PRIMARY KEY columns.
Id = BigInteger().with_variant(Integer, "sqlite")


def status_of(enum: type[StrEnum], length: int = 16) -> SAEnum:
    """A column of one of the enums in statuses.py: VARCHAR in the database (the values, as the
    migrations wrote them), the enum's member in Python, and a value outside it refused on write."""
    return SAEnum(enum, native_enum=False, create_constraint=False, length=length, validate_strings=True,
                  values_callable=lambda members: [m.value for m in members])


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps are aware and in UTC on the way in and out, on PostgreSQL and on SQLite alike
    (SQLite stores no zone and would hand back naive datetimes)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime: say which zone it is in")
        return None if value is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Merchant(Base):
    __tablename__ = "merchants"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())


class Store(Base):
    __tablename__ = "stores"
    __table_args__ = (
        UniqueConstraint("merchant_id", "source_id", name="uq_stores_merchant_source"),
        Index("ix_stores_h3_r9", "h3_r9"),
        Index("ix_stores_geog", "geog", postgresql_using="gist"),
    )
    __mapper_args__ = {"eager_defaults": False}  # noqa: RUF012 (no RETURNING: SQLite lacks it)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    source_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    category: Mapped[str] = mapped_column(String(100), default="store")
    address: Mapped[str | None] = mapped_column(String(500))
    phone: Mapped[str | None] = mapped_column(String(50))
    # {"mon": [["07:00", "22:00"]], ...}: local times in `timezone`; "24:00" and overnight spans allowed.
    hours: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    status: Mapped[StoreStatus] = mapped_column(status_of(StoreStatus), default=StoreStatus.OPEN)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    h3_r9: Mapped[int] = mapped_column(BigInteger)
    rating_count: Mapped[int] = mapped_column(Integer, default=0)
    rating_sum: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    geog: Mapped[Any] = mapped_column(
        Geography("POINT", srid=4326, spatial_index=False),
        Computed("(st_setsrid(st_makepoint(lng, lat), 4326))::geography", persisted=True),
        deferred=True, deferred_raiseload=True,
    )


class StoreChange(Base):
    """The change feed: one row per store write, in the same transaction, read by every worker."""

    __tablename__ = "store_changes"

    seq: Mapped[int] = mapped_column(Id, primary_key=True)
    store_id: Mapped[int] = mapped_column(BigInteger)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())


class ConsentRecord(Base):
    """The consent ledger: every grant and withdrawal is a row; the newest one per purpose counts."""

    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_user_purpose", "user_id", "purpose", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(String(64))  # "location_marketing", ...
    granted: Mapped[bool]
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())


class UserPreferences(Base):
    __tablename__ = "user_preferences"

    user_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    quiet_start: Mapped[str | None] = mapped_column(String(5))  # "22:00"; None: no quiet hours
    quiet_end: Mapped[str | None] = mapped_column(String(5))


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    level: Mapped[CampaignLevel] = mapped_column(status_of(CampaignLevel))
    merchant_id: Mapped[int | None] = mapped_column(BigInteger)
    store_ids: Mapped[list[int] | None] = mapped_column(JSON)
    district: Mapped[str | None] = mapped_column(String(64))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    budget: Mapped[int | None] = mapped_column(Integer)  # most claims (coupons) it may give
    per_user_limit: Mapped[int] = mapped_column(Integer, default=1)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    claimed: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    offer: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # {"kind", "value", "min_spend_cents"}
    audience: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # who may receive and claim it
    points_price: Mapped[int | None] = mapped_column(Integer)  # its coupon can be bought with this many points


class PromotionSent(Base):
    """Promotions pushed to users: what the frequency caps count."""

    __tablename__ = "promotions"
    __table_args__ = (Index("ix_promotions_user_day", "user_id", "local_day"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(200))
    store_id: Mapped[int] = mapped_column(BigInteger)
    campaign_id: Mapped[int] = mapped_column(BigInteger)
    local_day: Mapped[str] = mapped_column(String(10))  # the user's own calendar day, for daily caps
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())


class OutboxMessage(Base):
    """Alerts and promotions, written in the transaction that caused them; a relay moves them to the streams."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_unrelayed", "id", postgresql_where="relayed_at IS NULL",
                            sqlite_where="relayed_at IS NULL"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(220))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    relayed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    subject: Mapped[str | None] = mapped_column(String(200), index=True)  # the user it is about: erasure finds it
    stream_id: Mapped[int | None] = mapped_column(BigInteger)  # the id its channel's stream gave it


class Coupon(Base):
    """A claimed offer. One per user per campaign, enforced by the database."""

    __tablename__ = "coupons"
    __table_args__ = (UniqueConstraint("campaign_id", "user_id", name="uq_coupons_campaign_user"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    user_id: Mapped[str] = mapped_column(String(200), index=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[CouponStatus] = mapped_column(status_of(CouponStatus), default=CouponStatus.CLAIMED)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    order_id: Mapped[int | None] = mapped_column(BigInteger)  # the order it is spent on, until its pickup or cancel


class Redemption(Base):
    """The proof a coupon was used: one row per coupon, whatever the concurrency."""

    __tablename__ = "redemptions"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    coupon_id: Mapped[int] = mapped_column(ForeignKey("coupons.id"), unique=True)
    store_id: Mapped[int] = mapped_column(BigInteger, index=True)
    staff: Mapped[str] = mapped_column(String(200))
    redeemed_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())


class IdempotencyRecord(Base):
    """A request made with an Idempotency-Key, and the response it got, for safe retries."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key", name="uq_idempotency_scope_key"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    scope: Mapped[str] = mapped_column(String(300))  # who and where: the same key from others is another request
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())


class MemberEvent(Base):
    """The append-only member log: arrival, claim, redeem, order, pickup, review."""

    __tablename__ = "member_events"
    __table_args__ = (Index("ix_member_events_user", "user_id", "id"),
                      Index("ix_member_events_store_at", "store_id", "at"))

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(200))
    store_id: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())


class Sku(Base):
    __tablename__ = "skus"
    __table_args__ = (UniqueConstraint("merchant_id", "code", name="uq_skus_merchant_code"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    price_cents: Mapped[int] = mapped_column(BigInteger)
    # fold(code\nname): unbounded, as folding can lengthen text ("ß" -> "ss", "㍿" -> four letters).
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")


class Stock(Base):
    __tablename__ = "stock"

    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), primary_key=True, index=True)
    quantity: Mapped[int] = mapped_column(Integer)


class Order(Base):
    """An order paid online and picked up in the store: pending -> paid -> ready -> picked_up,
    or cancelled (before payment) / refunded (paid, not yet picked up)."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(200), index=True)
    store_id: Mapped[int] = mapped_column(BigInteger, index=True)
    status: Mapped[OrderStatus] = mapped_column(status_of(OrderStatus))
    total_cents: Mapped[int] = mapped_column(BigInteger)
    payment_ref: Mapped[str] = mapped_column(String(64), unique=True)
    pickup_code: Mapped[str] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    picked_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # cancelled or refunded
    coupon_id: Mapped[int | None] = mapped_column(BigInteger)  # the coupon its discount came from
    discount_cents: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class OrderLine(Base):
    __tablename__ = "order_lines"

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)
    price_cents: Mapped[int] = mapped_column(BigInteger)


class Payment(Base):
    """The payment ledger: one charge and at most one refund per order, whatever the races."""

    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("order_id", "kind", name="uq_payments_order_kind"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    kind: Mapped[PaymentKind] = mapped_column(status_of(PaymentKind, length=8))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class Review(Base):
    """A rating after a visit: one per redemption or pickup, by the member who made it."""

    __tablename__ = "reviews"
    __table_args__ = (UniqueConstraint("visit_kind", "visit_id", name="uq_reviews_visit"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(200), index=True)
    store_id: Mapped[int] = mapped_column(BigInteger, index=True)
    visit_kind: Mapped[VisitKind] = mapped_column(status_of(VisitKind))
    visit_id: Mapped[int] = mapped_column(BigInteger)
    rating: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(String(2000), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())


class District(Base):
    """An administrative boundary (WGS-84 GeoJSON), e.g. a city district by its adcode."""

    __tablename__ = "districts"
    __table_args__ = (Index("ix_districts_geom", "geom", postgresql_using="gist"),)
    __mapper_args__ = {"eager_defaults": False}  # noqa: RUF012 (no RETURNING: SQLite lacks it)

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(200))
    province: Mapped[str | None] = mapped_column(String(200))
    geometry: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    geom: Mapped[Any] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=False),
        Computed("st_multi(st_setsrid(st_geomfromgeojson((geometry)::text), 4326))", persisted=True),
        deferred=True, deferred_raiseload=True,
    )


class DemandCell(Base):
    """A user was seen (a fix, or a search that found nothing) in an H3 res-9 cell on a day.

    No coordinates, no user id: a salted hash that only counts distinct users; rows expire.
    """

    __tablename__ = "demand_cells"
    __table_args__ = (Index("ix_demand_cells_day", "day"),)  # retention deletes by day

    cell9: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    user_hash: Mapped[str] = mapped_column(String(16), primary_key=True)
    cell8: Mapped[int] = mapped_column(BigInteger, index=True)


class TokenRevocation(Base):
    """Every token of `subject` issued at or before `revoked_before` (unix seconds) is refused."""

    __tablename__ = "token_revocations"

    subject: Mapped[str] = mapped_column(String(200), primary_key=True)
    revoked_before: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(500), default="")
    revoked_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())


class Visit(Base):
    """A visit of a user to a store: nearby -> approaching -> arrived -> left (geo_index.visits).

    At most one open visit (left_at IS NULL) per (user, store); `stage` only grows.
    """

    __tablename__ = "visits"
    __table_args__ = (
        Index("ix_visits_open", "user_id", "store_id", unique=True, postgresql_where=text("left_at IS NULL"),
              sqlite_where=text("left_at IS NULL")),
        Index("ix_visits_user", "user_id"),
        Index("ix_visits_store_started", "store_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(200))
    store_id: Mapped[int] = mapped_column(BigInteger)
    stage: Mapped[int] = mapped_column(SmallInteger)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    approaching_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dwell_s: Mapped[float | None] = mapped_column(Float)
    card_sent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PushSubscription(Base):
    """A browser's Web Push subscription (PushSubscription.toJSON()), on an allowed push service."""

    __tablename__ = "push_subscriptions"
    __table_args__ = (UniqueConstraint("user_id", "endpoint", name="uq_push_subscriptions_user_endpoint"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(200), index=True)
    endpoint: Mapped[str] = mapped_column(String(2048))
    p256dh: Mapped[str] = mapped_column(String(100))  # the browser's P-256 key, base64url
    auth: Mapped[str] = mapped_column(String(50))  # its 16-byte auth secret, base64url
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebPushDelivery(Base):
    """One notification for one subscription: written in the transaction of what caused it, sent by
    whichever worker claims it first (a lease), retried with backoff, finished with a state."""

    __tablename__ = "webpush_deliveries"
    __table_args__ = (Index("ix_webpush_deliveries_due", "state", "due_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("push_subscriptions.id", ondelete="CASCADE"),
                                                 index=True)
    user_id: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[PushKind] = mapped_column(status_of(PushKind))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)  # what the notification shows, nothing more
    topic: Mapped[str] = mapped_column(String(32))
    urgency: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(32))  # the token of the claim holding the lease
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    state: Mapped[PushState] = mapped_column(status_of(PushState), default=PushState.PENDING)
    last_status: Mapped[int | None] = mapped_column(SmallInteger)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ServerKey(Base):
    """Keys the service made for itself and every worker must share (the VAPID key when none is set)."""

    __tablename__ = "server_keys"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(4000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())


class BillPayment(Base):
    """A utility bill paid at an outlet. The customer's account is kept only as a keyed hash."""

    __tablename__ = "bill_payments"
    __table_args__ = (Index("ix_bill_payments_store_paid", "store_id", "paid_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    store_id: Mapped[int] = mapped_column(BigInteger)
    staff: Mapped[str] = mapped_column(String(200))
    utility: Mapped[str] = mapped_column(String(16))
    account_hash: Mapped[str] = mapped_column(String(64))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PointsBalance(Base):
    """A member's points: the sum of their ledger entries, kept beside it in the same transactions."""

    __tablename__ = "points_balances"
    __table_args__ = (CheckConstraint("balance >= 0", name="ck_points_balance_not_negative"),)

    user_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    balance: Mapped[int] = mapped_column(BigInteger)


class PointsEntry(Base):
    """One append-only line of a member's points ledger; (reason, ref) is what earned or spent it,
    once: a redemption, a pickup, a review, an exchange, or the taking back of one of them."""

    __tablename__ = "points_entries"
    __table_args__ = (UniqueConstraint("user_id", "reason", "ref", name="uq_points_entries_reason_ref"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(200))
    delta: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(32))
    ref: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class Game(Base):
    """A scratch card or a wheel: prizes drawn by odds while their stock lasts."""

    __tablename__ = "games"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    merchant_id: Mapped[int | None] = mapped_column(BigInteger)
    store_ids: Mapped[list[int] | None] = mapped_column(JSON)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    plays_per_user_per_day: Mapped[int] = mapped_column(Integer)
    timezone: Mapped[str] = mapped_column(String(64))  # whose calendar day the daily plays count in
    created_by: Mapped[str] = mapped_column(String(200))


class GamePrize(Base):
    __tablename__ = "game_prizes"
    __table_args__ = (CheckConstraint("won <= stock", name="ck_game_prizes_within_stock"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    game_id: Mapped[int] = mapped_column(ForeignKey("games.id"), index=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    odds_bp: Mapped[int] = mapped_column(Integer)
    stock: Mapped[int] = mapped_column(Integer)
    won: Mapped[int] = mapped_column(Integer, default=0)


class GamePlayDay(Base):
    """How often a user played a game on one local day: the daily limit is a conditional increment."""

    __tablename__ = "game_play_days"

    game_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    plays: Mapped[int] = mapped_column(Integer)


class GamePlay(Base):
    """Every play, for audit: the draw, what it won (a prize whose stock was gone wins nothing)."""

    __tablename__ = "game_plays"
    __table_args__ = (Index("ix_game_plays_game", "game_id", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    game_id: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[str] = mapped_column(String(200), index=True)
    draw_bp: Mapped[int] = mapped_column(Integer)  # 0..9999 from the system's cryptographic source
    prize_id: Mapped[int | None] = mapped_column(BigInteger)
    coupon_id: Mapped[int | None] = mapped_column(BigInteger)
    outcome: Mapped[str] = mapped_column(String(16))  # "prize", "none", "out_of_stock", "held"
    played_at: Mapped[datetime] = mapped_column(UTCDateTime)
