"""Response bodies: the public shape of every JSON answer, so the OpenAPI documents each one and
the fuzzer checks what the service sends, not only what it takes.

Extra fields are refused: a field a domain function adds without declaring it here fails loudly in
the tests (a 500 from response validation) instead of leaking silently, or vanishing.
Instants are the domain's ISO 8601 strings, passed through unchanged.
"""

from typing import Annotated, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field

from geo_index.fences import Drop
from geo_index.visits import Stage
from lbs_service.statuses import CampaignLevel, CouponStatus, OrderStatus, VisitKind

Instant = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
StageName = Literal["nearby", "approaching", "arrived", "left"]


def stage_name(stage: int) -> StageName:
    """A visit stage as the API names it."""
    return cast(StageName, Stage(stage).name.lower())


class Public(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- the user's own data ---

class ConsentEntry(Public):
    location_marketing: bool
    recorded_at: Instant


class ConsentPublic(Public):
    location_marketing: bool
    history: list[ConsentEntry]


class PreferencesPublic(Public):
    timezone: str
    quiet_start: str | None
    quiet_end: str | None


class VisitStage(Public):
    store_id: int
    stage: StageName
    distance_m: float


class LocationBatchResult(Public):
    accepted: int
    dropped: dict[Drop, int] = Field(description="fixes not used, by reason")
    arrivals: list[int] = Field(description="stores whose visit these fixes started")
    visits: list[VisitStage]


class MemberTags(Public):
    favourite_categories: list[str]
    home_area: str | None = Field(description="an H3 resolution-7 cell, no finer")


class MemberProfile(Public):
    tier: str
    visits: int
    tags: MemberTags


class HeldFix(Public):
    lat: float
    lng: float
    ts: float
    accuracy_m: float


class HeldVisit(Public):
    store_id: int
    stage: StageName


class FenceState(Public):
    recent_fixes: list[HeldFix]
    visits: list[HeldVisit]


class VisitRow(Public):
    id: int
    store_id: int
    stage: StageName
    started_at: Instant
    arrived_at: Instant | None
    left_at: Instant | None
    dwell_s: float | None


class LocationEvent(Public):
    store_id: int | None
    kind: str
    at: Instant
    data: dict[str, Any]


class PromotionRow(Public):
    store_id: int
    campaign_id: int
    sent_at: Instant


class WebPushRow(Public):
    kind: str
    title: str
    body: str
    state: str
    created_at: Instant


class LocationData(Public):
    user_id: str
    fix_retention_s: int
    fence_state: FenceState | None
    visits: list[VisitRow]
    arrivals: list[LocationEvent]
    promotions: list[PromotionRow]
    messages_about_you: int
    web_pushes: list[WebPushRow] = Field(description="notifications for your closed app, sent or owed")
    demand_cells_by_day: dict[str, int]


class Erasure(Public):
    deleted: dict[str, int] = Field(description="what went, by kind")


# --- Web Push ---

class VapidPublicKey(Public):
    key: str = Field(description="the application server key for pushManager.subscribe: base64url of the "
                                 "uncompressed P-256 point")


class PushSubscriptionCreated(Public):
    id: int


class PushSubscriptionPublic(Public):
    id: int
    push_service: str = Field(description="the push service's host (the endpoint itself is the browser's secret)")
    created_at: Instant
    expires_at: Instant | None


class PushSubscriptionList(Public):
    subscriptions: list[PushSubscriptionPublic]


# --- campaigns, coupons, reviews ---

class OfferPublic(Public):
    kind: Literal["percent", "amount"]
    value: int = Field(description="whole percent off, or cents off")
    min_spend_cents: int


class VisitedPublic(Public):
    merchant_id: int | None = None
    category: str | None = None
    days: int


class AudiencePublic(Public):
    tiers: list[str] | None = None
    favourite_categories: list[str] | None = None
    home_areas: list[str] | None = Field(None, description="H3 res-7 cells")
    visited: VisitedPublic | None = None


class CampaignPublic(Public):
    id: int
    title: str
    level: CampaignLevel
    merchant_id: int | None
    store_ids: list[int] | None
    district: str | None
    starts_at: Instant
    ends_at: Instant
    budget: int | None
    per_user_limit: int
    priority: int
    claimed: int
    offer: OfferPublic | None = None
    audience: AudiencePublic | None = None
    points_price: int | None = Field(None, description="its coupon is exchanged for this many points")


class CouponPublic(Public):
    id: int
    code: str
    campaign_id: int
    status: CouponStatus
    claimed_at: Instant | None


class QrPayload(Public):
    payload: str = Field(description="what the app draws as a QR code")
    expires_in: int = Field(description="seconds the payload is valid")


class CouponQr(QrPayload):
    code: str


class OrderQr(QrPayload):
    pickup_code: str


class Redeemed(Public):
    status: Literal["redeemed"]
    coupon_id: int
    campaign_id: int
    title: str
    store_id: int
    redeemed_at: Instant
    offer: OfferPublic | None
    basket_cents: int | None
    discount_cents: int | None = Field(description="the offer's discount on the basket (with a basket)")
    pay_cents: int | None = Field(description="what the customer pays (with a basket)")


class ReviewPublic(Public):
    id: int
    store_id: int
    rating: int
    text: str
    visit_kind: VisitKind


# --- catalogue, orders, payments ---

class SkuPublic(Public):
    id: int
    merchant_id: int
    code: str
    name: str
    price_cents: int


class StockLevel(Public):
    store_id: int
    sku_id: int
    quantity: int


class StockRow(Public):
    sku_id: int
    code: str
    name: str
    price_cents: int
    quantity: int


class OrderLinePublic(Public):
    sku_id: int
    quantity: int
    price_cents: int


class Checkout(Public):
    provider: str
    ref: str
    amount_cents: int
    pay: str = Field(description="where the payment is made (the simulated provider's path)")


class OrderStaffView(Public):
    """An order as its store's staff and the operator see it: no pickup code."""

    id: int
    store_id: int
    status: OrderStatus
    total_cents: int = Field(description="what is paid: the lines' sum less the discount")
    discount_cents: int = Field(description="what the coupon's offer took off")
    coupon_id: int | None
    created_at: Instant
    lines: list[OrderLinePublic]


class OrderPublic(OrderStaffView):
    """An order as its customer sees it."""

    pickup_code: str


class PlacedOrder(OrderPublic):
    payment: Checkout


class QueueItem(Public):
    sku_id: int
    name: str
    quantity: int


class QueuedOrder(Public):
    id: int
    status: OrderStatus
    total_cents: int
    created_at: Instant
    user_ref: str = Field(description="the customer under this store's pseudonym")
    items: list[QueueItem]


class PaymentApplied(Public):
    order_id: int
    status: OrderStatus
    repeat: bool = Field(description="true when this payment was applied before")


class PaymentRefunded(PaymentApplied):
    """A payment for an order already cancelled or expired: recorded and refunded at once."""

    refunded: Literal[True]


# --- operators, planners, reports ---

class Revocation(Public):
    subject: str
    revoked_before: int = Field(description="unix seconds: tokens issued up to then are refused")
    effective_everywhere_within_s: float


class DistrictPublic(Public):
    code: str
    name: str
    city: str | None


class Gap(Public):
    cell: str
    demand: int
    nearest_m: float | None
    lat: float
    lng: float


class SiteSuggestion(Public):
    lat: float
    lng: float
    gained_demand: int
    cell: str
    name: str = Field("", description="where it is, as a person says it: the street of the nearest store's "
                                      "address and the district")
    district: str | None = None
    near_store: str | None = Field(None, description="the nearest store within 1 km")
    near_m: float | None = None


class MerchantPublic(Public):
    id: int
    name: str
    stores: int = Field(description="open stores it runs")


class CategoryList(Public):
    categories: list[str]


class StorePerformance(Public):
    store_id: int
    name: str
    category: str
    merchant_id: int
    lat: float
    lng: float
    visits: int | None = Field(description="arrivals in the week; null: fewer than k people")
    redemptions: int | None = Field(description="coupons redeemed; null: fewer than k people")
    orders: int | None = Field(description="orders placed; null: fewer than k people")


class PerformanceReport(Public):
    week: str = Field(description="the ISO week counted, YYYY-Www (Monday to Sunday, UTC)")
    k: int = Field(description="a figure made up by fewer people than this is withheld (null)")
    stores: list[StorePerformance]


class DemandCovered(Public):
    total: int
    covered: int
    uncovered: int


class GapsAndSites(Public):
    gaps: list[Gap]
    suggestions: list[SiteSuggestion]
    demand: DemandCovered


class Health(Public):
    status: Literal["ok"]


class ReadyChecks(Public):
    database: bool
    redis: bool | Literal["embedded"]
    stores_indexed: int


class Ready(Public):
    status: Literal["ready"]
    checks: ReadyChecks


# --- stores (application/geo+json, RFC 7946) ---

class PointGeometry(Public):
    type: Literal["Point"]
    coordinates: Annotated[list[float], Field(min_length=2, max_length=2, description="[lng, lat] in the asked datum")]


class Rating(Public):
    average: float
    count: int


class StoreProperties(Public):
    distance_m: float | None = Field(None, description="great-circle metres from the asked point (nearby only)")
    name: str
    category: str
    source_id: str
    merchant_id: int
    address: str | None
    phone: str | None
    status: Literal["open", "closed"]
    hours: dict[str, list[list[str]]] | None
    timezone: str
    open_now: bool | None = Field(description="null: the store publishes no hours")
    rating: Rating | None
    utilities: list[Literal["water", "electricity", "gas"]] | None = Field(
        None, description="the utility bills the outlet takes (outlets that say)")
    quantity: int | None = Field(None, description="with sku=: how many the store holds")


class StoreFeature(Public):
    type: Literal["Feature"]
    id: str
    geometry: PointGeometry
    properties: StoreProperties


class Link(Public):
    rel: Literal["next"]
    type: Literal["application/geo+json"]
    href: str = Field(description="the same question, continued after this page (relative to the server)")


class StoreCollection(Public):
    type: Literal["FeatureCollection"]
    features: list[StoreFeature]
    number_matched: int = Field(alias="numberMatched", description="every store within the radius that matches")
    number_returned: int = Field(alias="numberReturned")
    links: list[Link] | None = Field(None, description="with a `next` link when more stores follow this page")



class DistrictFeature(Public):
    type: Literal["Feature"]
    id: str
    geometry: dict[str, Any] = Field(description="a GeoJSON Polygon or MultiPolygon, WGS-84")
    properties: DistrictPublic


class DistrictCollection(Public):
    type: Literal["FeatureCollection"]
    features: list[DistrictFeature]


# --- marketing tools: games, points, bills, funnels, stocking ---

class GameCreated(Public):
    id: int


class GamePrizePublic(Public):
    campaign_id: int
    title: str
    odds_bp: int


class GamePublic(Public):
    id: int
    title: str
    kind: Literal["scratch", "wheel"]
    merchant_id: int | None
    store_ids: list[int] | None
    starts_at: Instant
    ends_at: Instant
    plays_per_user_per_day: int
    prizes: list[GamePrizePublic]


class PrizeCoupon(Public):
    id: int
    code: str


class PlayPrize(Public):
    campaign_id: int
    coupon: PrizeCoupon


class PlayResult(Public):
    play_id: int
    outcome: Literal["prize", "none", "out_of_stock", "held", "not_eligible"] = Field(
        description="held: the drawn prize's coupon is yours already; out_of_stock: its stock was gone; "
                    "not_eligible: its campaign is for another audience")
    prize: PlayPrize | None


class PrizeStock(Public):
    prize_id: int
    campaign_id: int
    odds_bp: int
    stock: int
    won: int
    left: int


class PlayCounts(Public):
    prize: int
    none: int
    out_of_stock: int
    held: int
    not_eligible: int


class GameAudit(Public):
    game_id: int
    plays: int
    players: int
    by_outcome: PlayCounts
    prizes: list[PrizeStock]


class PointsEntryPublic(Public):
    delta: int
    reason: str = Field(description="redemption, pickup, review, exchange, or undo_<reason>")
    ref: str
    at: Instant


class PointsStatement(Public):
    balance: int
    entries: list[PointsEntryPublic] = Field(description="the latest entries, newest first")


class Exchanged(Public):
    campaign_id: int
    points_spent: int
    balance: int
    coupon: PrizeCoupon


class BillPaymentRecorded(Public):
    id: int
    store_id: int
    utility: Literal["water", "electricity", "gas"]
    amount_cents: int
    paid_at: Instant


class FunnelCounts(Public):
    sent: int | None
    arrived: int | None
    claimed: int | None
    redeemed: int | None
    ordered: int | None
    reviewed: int | None


class FunnelRates(Public):
    arrived: float | None
    claimed: float | None
    redeemed: float | None
    ordered: float | None
    reviewed: float | None


class FunnelStore(FunnelCounts):
    store_id: int
    rates: FunnelRates


class Funnel(FunnelCounts):
    campaign_id: int
    k: int = Field(description="counts of 1..k-1 people are withheld (null)")
    rates: FunnelRates = Field(description="each stage as a share of sent")
    by_store: list[FunnelStore]


class StockSuggestionPublic(Public):
    sku_id: int
    code: str
    name: str
    on_hand: int
    forecast_7d: float
    suggested_order: int
    by_weekday: list[float] = Field(description="mean units per weekday, Monday first")
    method: str


class AudienceSizePublic(Public):
    campaign_id: int
    size: int | None = Field(description="members in the audience now; null below k")
    k: int
    capped: bool = Field(description="true when more members exist than one sizing reads (size is a lower bound)")
