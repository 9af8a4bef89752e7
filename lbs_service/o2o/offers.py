"""What a coupon is worth: a percentage or an amount off a basket, above a minimum spend.

Money is integer cents. A percentage's discount is rounded down to the whole cent (the merchant
never gives a fraction of a cent more than the offer says), and no discount is larger than the
basket it comes off.
"""

from dataclasses import dataclass
from typing import Any, Literal

from lbs_service.errors import InvalidInput

OfferKind = Literal["percent", "amount"]


@dataclass(frozen=True)
class Offer:
    kind: OfferKind
    value: int  # whole percent (1..100) or cents off
    min_spend_cents: int = 0

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "value": self.value, "min_spend_cents": self.min_spend_cents}


def offer_of(stored: dict[str, Any] | None) -> Offer | None:
    """The offer a campaign row stores (None: a coupon without value, e.g. a free gift at the till)."""
    if not stored:
        return None
    return Offer(stored["kind"], int(stored["value"]), int(stored.get("min_spend_cents") or 0))


def discount_cents(offer: Offer, basket_cents: int) -> int:
    """The discount on this basket; a basket below the minimum spend is refused."""
    if basket_cents < offer.min_spend_cents:
        raise InvalidInput(f"this offer needs a basket of at least {offer.min_spend_cents} cents "
                           f"(this one is {basket_cents})")
    if offer.kind == "percent":
        return basket_cents * offer.value // 100
    return min(offer.value, basket_cents)
