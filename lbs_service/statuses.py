"""The states things move through, as enums: stored as their string values, compared as members."""

from enum import StrEnum


class OrderStatus(StrEnum):
    """pending -> paid -> ready -> picked_up; cancelled before payment, refunded after it."""

    PENDING = "pending"
    PAID = "paid"
    READY = "ready"
    PICKED_UP = "picked_up"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


OPEN_ORDER_STATUSES = (OrderStatus.PENDING, OrderStatus.PAID, OrderStatus.READY)
WAITING_FOR_PICKUP = (OrderStatus.PAID, OrderStatus.READY)


class CouponStatus(StrEnum):
    CLAIMED = "claimed"
    REDEEMED = "redeemed"


class StoreStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"  # for good


class CampaignLevel(StrEnum):
    PLATFORM = "platform"
    REGION = "region"
    MERCHANT = "merchant"
    STORE = "store"


class VisitKind(StrEnum):
    """What makes a review possible: the member was in the store."""

    REDEMPTION = "redemption"
    PICKUP = "pickup"


class PaymentKind(StrEnum):
    CHARGE = "charge"
    REFUND = "refund"


class PushKind(StrEnum):
    """What a Web Push tells the user (an offer obeys location-marketing consent; the others are service)."""

    OFFER = "offer"
    REPLY = "reply"
    ORDER = "order"


class PushState(StrEnum):
    """pending -> sent | online (the user's socket had it) | dropped (consent withdrawn, subscription
    expired) | expired (its TTL passed before a push service took it) | failed (refused, or out of tries)."""

    PENDING = "pending"
    SENT = "sent"
    ONLINE = "online"
    DROPPED = "dropped"
    EXPIRED = "expired"
    FAILED = "failed"
