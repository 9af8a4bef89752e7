"""The decisions a visit's stages call for, from what the worker holds in memory (no query per fix).

Promotion, when a user's fix starts visits: in order, marketing consent (separate, off until
given), quiet hours in the user's own time zone, then among the stores whose visit this fix
started the open ones with a running campaign for the user's audience that has budget left and
whose coupon the user does not already hold, minus those capped (per user per store per day, per user per day). One
offer per fix: the nearest such store, ties by campaign priority. Every store left out gets a reason.

Staff card, when a visit approaches or arrives: only for a customer with intent at that store (an
order waiting there, a coupon valid there, an offer of the store sent in this visit, a member of
the store's merchant at or above the configured tier) - or for everyone in `all` mode. What the
card says is the store's own business only: no global id, nothing about other stores or merchants.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from lbs_service.o2o.audiences import matches, tier_for, tier_rank
from lbs_service.o2o.campaigns import CampaignView, targets
from lbs_service.o2o.customers import Customer
from lbs_service.records import StoreRecord

DistrictOf = Callable[[StoreRecord], str | None]  # the district polygon a store stands in
CampaignsAt = Callable[[datetime], list[CampaignView]]  # campaigns running at an instant, priority first


class Suppressed(StrEnum):
    NO_CONSENT = "no_consent"
    QUIET_HOURS = "quiet_hours"
    STORE_CLOSED = "store_closed"
    NO_CAMPAIGN = "no_campaign"
    BUDGET_SPENT = "budget_spent"
    CAP_STORE_DAY = "cap_store_day"
    CAP_USER_DAY = "cap_user_day"
    ARBITRATION = "arbitration"
    COUPON_HELD = "coupon_held"
    AUDIENCE = "audience"


@dataclass(frozen=True)
class Entered:
    store: StoreRecord
    distance_m: float


@dataclass(frozen=True)
class Offer:
    store: StoreRecord
    campaign: CampaignView
    distance_m: float
    local_day: str


@dataclass(frozen=True)
class Caps:
    per_store_per_day: int = 1
    per_user_per_day: int = 3


def choose_offer(customer: Customer, entered: list[Entered], at: datetime, caps: Caps, campaigns: CampaignsAt,
                 district_of: DistrictOf) -> tuple[Offer | None, list[tuple[int, Suppressed]]]:
    """The one offer for this fix (or none) and why every other entered store got none."""
    if not entered:
        return None, []
    everyone = [e.store.id for e in entered]
    if not customer.consented:
        return None, [(s, Suppressed.NO_CONSENT) for s in everyone]
    if customer.in_quiet_hours(at):
        return None, [(s, Suppressed.QUIET_HOURS) for s in everyone]
    day = customer.local(at).date().isoformat()
    sent_today = customer.sent_on(day)
    if sum(sent_today.values()) >= caps.per_user_per_day:
        return None, [(s, Suppressed.CAP_USER_DAY) for s in everyone]
    held = {c.id for c in customer.held}
    running = [c for c in campaigns(at) if not c.sold_for_points]  # those are bought, not offered
    any_region = any(c.level == "region" for c in running)
    suppressed: list[tuple[int, Suppressed]] = []
    candidates: list[tuple[float, int, Entered, CampaignView]] = []
    for e in entered:
        district = district_of(e.store) if any_region else None
        targeting = [c for c in running if targets(c, e.store, district)]
        for_them = [c for c in targeting if matches(c.audience, customer.facts, at)]
        with_budget = [c for c in for_them if c.has_budget]
        not_held = [c for c in with_budget if c.id not in held]
        if not e.store.open_at(at):
            suppressed.append((e.store.id, Suppressed.STORE_CLOSED))
        elif not targeting:
            suppressed.append((e.store.id, Suppressed.NO_CAMPAIGN))
        elif not for_them:
            suppressed.append((e.store.id, Suppressed.AUDIENCE))
        elif not with_budget:
            suppressed.append((e.store.id, Suppressed.BUDGET_SPENT))
        elif not not_held:
            suppressed.append((e.store.id, Suppressed.COUPON_HELD))
        elif sent_today[e.store.id] >= caps.per_store_per_day:
            suppressed.append((e.store.id, Suppressed.CAP_STORE_DAY))
        else:
            best = not_held[0]  # highest priority first
            candidates.append((e.distance_m, -best.priority, e, best))
    if not candidates:
        return None, suppressed
    candidates.sort(key=lambda c: (c[0], c[1], c[2].store.id))
    _, _, winner, campaign = candidates[0]
    suppressed += [(c[2].store.id, Suppressed.ARBITRATION) for c in candidates[1:]]
    return Offer(winner.store, campaign, winner.distance_m, day), suppressed


@dataclass(frozen=True)
class CardRules:
    mode: str  # "intent" | "all"
    min_tier: str | None
    thresholds: dict[str, int]


def card_context(customer: Customer | None, store: StoreRecord, district: str | None, offer: dict[str, Any] | None,
                 at: datetime, rules: CardRules) -> tuple[bool, dict[str, Any]]:
    """(does this visit get a card, what the card shows). Only this store's business goes in."""
    if customer is None:
        return rules.mode == "all", {"tier": "member", "orders": [], "coupons": [], "offer": offer}
    visits = customer.facts.merchant_visits[store.merchant_id]
    tier = tier_for(visits, rules.thresholds)
    coupons = [{"campaign_id": c.id, "title": c.title} for c in customer.held
               if c.running_at(at) and targets(c, store, district)]
    orders = [o.public() for o in customer.orders.get(store.id, [])]
    member_intent = rules.min_tier is not None and tier_rank(tier, rules.thresholds) >= tier_rank(
        rules.min_tier, rules.thresholds)
    intent = bool(orders or coupons or offer or member_intent)
    context = {"tier": tier, "orders": orders, "coupons": coupons, "offer": offer}
    return intent or rules.mode == "all", context
