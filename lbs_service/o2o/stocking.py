"""How much of each product a store should order: a forecast of the next days' demand from its
own recent weeks, by weekday, against what is on the shelf.

Demand for a weekday is the mean of the units ordered at this store (orders paid, ready or picked
up) on that weekday over the last `weeks` weeks, in the store's time zone; the forecast adds the
coming `days` such weekdays and scales them by the store's visit trend (visits in the last 7 days
against the weekly mean of the period, bounded to 0.5..2; 1 without visits). The suggestion is
what the forecast needs beyond the stock on hand, rounded up.
"""

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from lbs_service.errors import NotFound
from lbs_service.hours import parse_timezone
from lbs_service.statuses import OrderStatus
from lbs_service.storage.db import Database
from lbs_service.storage.models import MemberEvent, Order, OrderLine, Sku, Stock, Store

WEEKS = 4
DAYS_AHEAD = 7
TREND_BOUNDS = (0.5, 2.0)
SOLD = (OrderStatus.PAID, OrderStatus.READY, OrderStatus.PICKED_UP)


@dataclass(frozen=True)
class Suggestion:
    sku_id: int
    code: str
    name: str
    on_hand: int
    forecast_7d: float  # units expected over the next seven days
    suggested_order: int
    by_weekday: list[float]  # mean units per weekday, Monday first
    method: str


def _trend(recent: int, period: int, weeks: int) -> float:
    weekly = period / weeks
    if weekly == 0:
        return 1.0
    low, high = TREND_BOUNDS
    return min(high, max(low, recent / weekly))


def suggestions(db: Database, store_id: int, at: datetime, weeks: int = WEEKS) -> list[Suggestion]:
    since = at - timedelta(weeks=weeks)
    with db.session() as session:
        store = session.get(Store, store_id)
        if store is None:
            raise NotFound(f"no store with id {store_id}")
        zone = parse_timezone(store.timezone)
        stocked = session.execute(select(Sku.id, Sku.code, Sku.name, Stock.quantity)
                                  .join(Stock, Stock.sku_id == Sku.id).where(Stock.store_id == store_id)
                                  .order_by(Sku.id)).all()
        sold = session.execute(select(OrderLine.sku_id, OrderLine.quantity, Order.created_at)
                               .join(Order, Order.id == OrderLine.order_id)
                               .where(Order.store_id == store_id, Order.status.in_(SOLD),
                                      Order.created_at >= since, Order.created_at < at)).all()
        visits_since = select(func.count()).where(MemberEvent.store_id == store_id, MemberEvent.kind == "visit",
                                                  MemberEvent.at < at)
        period = session.scalar(visits_since.where(MemberEvent.at >= since)) or 0
        recent = session.scalar(visits_since.where(MemberEvent.at >= at - timedelta(days=7))) or 0
    units: dict[int, list[int]] = defaultdict(lambda: [0] * 7)
    for sku_id, quantity, created_at in sold:
        units[sku_id][created_at.astimezone(zone).weekday()] += quantity
    trend = _trend(recent, period, weeks)
    first = (at.astimezone(zone) + timedelta(days=1)).weekday()  # from tomorrow, local
    ahead = [(first + d) % 7 for d in range(DAYS_AHEAD)]
    result = []
    for sku_id, code, name, on_hand in stocked:
        means = [u / weeks for u in units[sku_id]]
        forecast = round(sum(means[d] for d in ahead) * trend, 2)
        result.append(Suggestion(
            sku_id, code, name, on_hand, forecast, max(0, math.ceil(forecast) - on_hand), [round(m, 2) for m in means],
            f"mean units ordered here per weekday over the last {weeks} weeks, summed over the next "
            f"{DAYS_AHEAD} days and scaled by this week's visits against the weekly mean (x{trend:.2f}), "
            f"less the {on_hand} on hand, rounded up"))
    return result
