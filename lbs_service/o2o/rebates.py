"""Outlet star tiers and monthly rebates from transaction volume, by a gradient that is configuration.

Volume is what members paid for orders picked up at the outlet in the month, plus the utility bills
paid there, in the outlet's own time zone; refunded orders are never picked up, so they never
count, and each order counts once, in the month of its pickup. Rates are whole basis points and
rebates whole cents (rounded down), so recomputing a month always gives the same report.
"""

import io
import itertools
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from lbs_service.csv_export import csv_writer
from lbs_service.storage.db import Database
from lbs_service.storage.models import BillPayment, Coupon, Order, Redemption, Store


@dataclass(frozen=True)
class Band:
    min_volume_cents: int
    stars: int
    rate_bp: int  # basis points: 50 = 0.5 %


DEFAULT_GRADIENT = (Band(0, 1, 0), Band(100_000, 2, 50), Band(1_000_000, 3, 100), Band(5_000_000, 4, 150),
                    Band(20_000_000, 5, 200))


def check_gradient(gradient: Sequence[Band]) -> None:
    if not gradient or gradient[0].min_volume_cents != 0:
        raise ValueError("the gradient starts at a volume of 0")
    for lower, upper in itertools.pairwise(gradient):
        if not (upper.min_volume_cents > lower.min_volume_cents and upper.stars > lower.stars
                and upper.rate_bp >= lower.rate_bp):
            raise ValueError("bands rise in volume and stars, and rates never fall")


def gradient_from(rows: Sequence[Sequence[int]]) -> tuple[Band, ...]:
    """From settings: [[min_volume_cents, stars, rate_bp], ...]."""
    gradient = tuple(Band(int(v), int(s), int(r)) for v, s, r in rows)
    check_gradient(gradient)
    return gradient


def band_for(volume_cents: int, gradient: Sequence[Band]) -> Band:
    """The highest band whose threshold the volume reaches."""
    return [b for b in gradient if volume_cents >= b.min_volume_cents][-1]


def rebate_cents(volume_cents: int, band: Band) -> int:
    return volume_cents * band.rate_bp // 10_000


@dataclass(frozen=True)
class OutletMonth:
    store_id: int
    merchant_id: int
    name: str
    orders: int
    redemptions: int
    bill_payments: int
    bill_cents: int
    volume_cents: int  # picked-up orders and bills together
    stars: int
    rate_bp: int
    rebate_cents: int


def month_bounds(month: str) -> tuple[date, date]:
    start = datetime.strptime(month, "%Y-%m").date()
    end = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start, end


def monthly_report(db: Database, month: str, gradient: Sequence[Band] = DEFAULT_GRADIENT,
                   merchant_id: int | None = None) -> list[OutletMonth]:
    check_gradient(gradient)
    first, after = month_bounds(month)
    # A margin of a day either side catches every zone; the local month is decided per outlet below.
    lo = datetime.combine(first, datetime.min.time(), UTC) - timedelta(days=1)
    hi = datetime.combine(after, datetime.min.time(), UTC) + timedelta(days=1)
    with db.session() as session:
        stores_query = select(Store.id, Store.merchant_id, Store.name, Store.timezone)
        if merchant_id is not None:
            stores_query = stores_query.where(Store.merchant_id == merchant_id)
        stores = {i: (m, n, ZoneInfo(tz)) for i, m, n, tz in session.execute(stores_query)}
        orders = session.execute(select(Order.store_id, Order.total_cents, Order.picked_up_at).where(
            Order.status == "picked_up", Order.picked_up_at >= lo, Order.picked_up_at < hi)).all()
        redemptions = session.execute(select(Redemption.store_id, Redemption.redeemed_at)
                                      .join(Coupon, Coupon.id == Redemption.coupon_id)
                                      .where(Redemption.redeemed_at >= lo, Redemption.redeemed_at < hi)).all()
        bills = session.execute(select(BillPayment.store_id, BillPayment.amount_cents, BillPayment.paid_at)
                                .where(BillPayment.paid_at >= lo, BillPayment.paid_at < hi)).all()
    volume: dict[int, int] = {}
    order_count: dict[int, int] = {}
    redeemed: dict[int, int] = {}
    bill_count: dict[int, int] = {}
    bill_cents: dict[int, int] = {}

    def in_month(store_id: int, at: datetime) -> bool:
        return store_id in stores and first <= at.astimezone(stores[store_id][2]).date() < after

    for store_id, cents, at in orders:
        if at is not None and in_month(store_id, at):
            volume[store_id] = volume.get(store_id, 0) + cents
            order_count[store_id] = order_count.get(store_id, 0) + 1
    for store_id, at in redemptions:
        if in_month(store_id, at):
            redeemed[store_id] = redeemed.get(store_id, 0) + 1
    for store_id, cents, at in bills:
        if in_month(store_id, at):
            bill_count[store_id] = bill_count.get(store_id, 0) + 1
            bill_cents[store_id] = bill_cents.get(store_id, 0) + cents
    report = []
    for store_id in sorted(set(volume) | set(redeemed) | set(bill_count)):
        merchant, name, _ = stores[store_id]
        total = volume.get(store_id, 0) + bill_cents.get(store_id, 0)
        band = band_for(total, gradient)
        report.append(OutletMonth(store_id, merchant, name, order_count.get(store_id, 0), redeemed.get(store_id, 0),
                                  bill_count.get(store_id, 0), bill_cents.get(store_id, 0), total, band.stars,
                                  band.rate_bp, rebate_cents(total, band)))
    return report


def to_csv(rows: Sequence[OutletMonth]) -> str:
    buffer = io.StringIO()
    csv_writer(buffer, list(OutletMonth.__dataclass_fields__)).writerows(asdict(r) for r in rows)
    return buffer.getvalue()
