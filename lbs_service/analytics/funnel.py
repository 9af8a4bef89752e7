"""What a campaign did, person by person: pushed an offer (`sent`), then came to a participating
store (`arrived`: a real visit, not a pass-by), took the coupon (`claimed`), used it (`redeemed`, at
the till or on an order), ordered for pickup there (`ordered`), and reviewed the store (`reviewed`).

Every stage counts distinct people among those the campaign reached by push, each from their
first push on and until the campaign ended; `by_store` follows the people pushed an offer of each
store, in that store. A count of 1..k-1 is withheld (null): it would describe fewer than k people;
and so is any store count that the whole less the other stores would give back (complementary
suppression).
"""

import io
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from lbs_service.csv_export import csv_writer
from lbs_service.statuses import CouponStatus, OrderStatus
from lbs_service.storage.db import Database
from lbs_service.storage.models import Campaign, Coupon, Order, PromotionSent, Redemption, Review, Visit

STAGES = ("sent", "arrived", "claimed", "redeemed", "ordered", "reviewed")
ORDERED = (OrderStatus.PAID, OrderStatus.READY, OrderStatus.PICKED_UP)
People = dict[str, set[str]]  # stage -> user ids


@dataclass(frozen=True)
class FunnelRow:
    store_id: int | None  # None: the whole campaign
    counts: dict[str, int | None]  # stage -> people (None: withheld, fewer than k)
    rates: dict[str, float | None]  # stage -> share of `sent` (None where either is withheld)


def _row(store_id: int | None, people: People, k: int) -> FunnelRow:
    """The row's counts, 1..k-1 people withheld; its rates come once every withholding is done."""
    counts: dict[str, int | None] = {}
    for stage in STAGES:
        n = len(people.get(stage, set()))
        counts[stage] = None if 0 < n < k else n
    return FunnelRow(store_id, counts, {})


def funnel(db: Database, campaign: Campaign, k: int, participates: Callable[[int], bool]) -> list[FunnelRow]:
    """The campaign's funnel, first the whole, then per store pushed (by store id)."""
    with db.session() as session:
        pushes = session.execute(select(PromotionSent.user_id, PromotionSent.store_id, PromotionSent.sent_at)
                                 .where(PromotionSent.campaign_id == campaign.id)).all()
        first: dict[str, datetime] = {}
        first_at_store: dict[tuple[str, int], datetime] = {}
        for user, store, at in pushes:
            first[user] = min(first.get(user, at), at)
            first_at_store[(user, store)] = min(first_at_store.get((user, store), at), at)
        users = list(first)
        visits: list[Any] = []
        coupons: list[Any] = []
        orders: list[Any] = []
        reviews: list[Any] = []
        redemptions: list[Any] = []
        for start in range(0, len(users), 1000):
            chunk = users[start:start + 1000]
            visits += session.execute(select(Visit.user_id, Visit.store_id, Visit.arrived_at).where(
                Visit.user_id.in_(chunk), Visit.arrived_at.is_not(None))).all()
            coupons += session.execute(select(Coupon.id, Coupon.user_id, Coupon.status, Coupon.order_id,
                                              Coupon.claimed_at).where(
                Coupon.campaign_id == campaign.id, Coupon.user_id.in_(chunk))).all()
            orders += session.execute(select(Order.id, Order.user_id, Order.store_id, Order.created_at).where(
                Order.user_id.in_(chunk), Order.status.in_(ORDERED))).all()
            reviews += session.execute(select(Review.user_id, Review.store_id, Review.created_at).where(
                Review.user_id.in_(chunk))).all()
        coupon_ids = [c.id for c in coupons]
        for start in range(0, len(coupon_ids), 1000):
            redemptions += session.execute(select(Redemption.coupon_id, Redemption.store_id, Redemption.redeemed_at)
                                           .where(Redemption.coupon_id.in_(coupon_ids[start:start + 1000]))).all()
    ends = campaign.ends_at
    order_placed = {order_id: (store, at) for order_id, _, store, at in orders}
    whole: People = defaultdict(set)
    stores: dict[int, People] = defaultdict(lambda: defaultdict(set))
    pushed_stores: dict[str, list[int]] = defaultdict(list)
    for user, store in first_at_store:
        whole["sent"].add(user)
        stores[store]["sent"].add(user)
        pushed_stores[user].append(store)

    def within(user: str, at: datetime | None, store: int | None = None) -> bool:
        since = first[user] if store is None else first_at_store.get((user, store))
        return at is not None and since is not None and since <= at < ends

    for user, store, at in visits:
        if participates(store) and within(user, at):
            whole["arrived"].add(user)
        if within(user, at, store):
            stores[store]["arrived"].add(user)
    redeemed = {coupon_id: (store, at) for coupon_id, store, at in redemptions}
    for coupon_id, user, status, order_id, claimed_at in coupons:
        used = redeemed.get(coupon_id) or (order_placed.get(order_id) if order_id else None)
        used_store = used[0] if used is not None and status == CouponStatus.REDEEMED else None
        if within(user, claimed_at):
            whole["claimed"].add(user)
            if used is not None and used_store is not None and within(user, used[1]):
                whole["redeemed"].add(user)
        for store in pushed_stores[user]:
            if within(user, claimed_at, store):
                stores[store]["claimed"].add(user)
                if used is not None and used_store == store and within(user, used[1], store):
                    stores[store]["redeemed"].add(user)
    for _, user, store, at in orders:
        if participates(store) and within(user, at):
            whole["ordered"].add(user)
        if within(user, at, store):
            stores[store]["ordered"].add(user)
    for user, store, at in reviews:
        if participates(store) and within(user, at):
            whole["reviewed"].add(user)
        if within(user, at, store):
            stores[store]["reviewed"].add(user)
    rows = [_row(None, whole, k)] + [_row(store, stores[store], k) for store in sorted(stores)]
    return _complement(rows, k)


def _complement(rows: list[FunnelRow], k: int) -> list[FunnelRow]:
    """Withhold more where the whole less the stores shown would give back a withheld count: while that
    difference is 1..k-1 people, the smallest store count shown goes too (the whole, when none is left)."""
    whole, stores = rows[0], rows[1:]
    for stage in STAGES:
        total = whole.counts[stage]
        while total is not None:
            shown = [row for row in stores if row.counts[stage]]
            if not 0 < total - sum(row.counts[stage] or 0 for row in shown) < k:
                break
            if not shown:
                whole.counts[stage] = total = None
                break
            min(shown, key=lambda row: (row.counts[stage], row.store_id or 0)).counts[stage] = None
    for row in rows:  # rates from the counts that are left
        sent = row.counts["sent"]
        for stage in STAGES[1:]:
            n = row.counts[stage]
            row.rates[stage] = round(n / sent, 4) if n is not None and sent else None
    return rows


def to_csv(rows: list[FunnelRow]) -> str:
    """One line for the whole campaign (store empty), then one per store; withheld counts are empty."""
    buffer = io.StringIO()
    writer = csv_writer(buffer, ["store_id", *STAGES, *(f"{stage}_rate" for stage in STAGES[1:])])
    for row in rows:
        writer.writerow({"store_id": "" if row.store_id is None else row.store_id,
                         **{stage: "" if n is None else n for stage, n in row.counts.items()},
                         **{f"{stage}_rate": "" if r is None else r for stage, r in row.rates.items()}})
    return buffer.getvalue()
