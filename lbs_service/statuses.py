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
