"""Orders paid online and picked up in the store.

Stock is taken when the order is placed, by a conditional decrement per line (no line can take
what is not there, under any concurrency), and given back when an order is cancelled or refunded.
Payment callbacks are idempotent: only a pending order can become paid, so a callback delivered
twice pays once. A paid order reaches the store's consoles through the outbox.
"""

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lbs_service.errors import Conflict, Forbidden, InvalidInput, NotFound
from lbs_service.o2o.members import record_event
from lbs_service.o2o.payments import PaymentProvider
from lbs_service.o2o.qr import looks_like_qr, read_qr_token
from lbs_service.proximity.context import user_ref
from lbs_service.proximity.outbox import enqueue
from lbs_service.settings import Settings
from lbs_service.storage.db import Database
from lbs_service.storage.models import Order, OrderLine, Sku, Stock, Store
from push.messages import store_channel

_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@dataclass(frozen=True)
class Line:
    sku_id: int
    quantity: int


def public(order: Order, lines: list[OrderLine]) -> dict[str, Any]:
    return {"id": order.id, "store_id": order.store_id, "status": order.status, "total_cents": order.total_cents,
            "pickup_code": order.pickup_code, "created_at": order.created_at.isoformat(),
            "lines": [{"sku_id": ln.sku_id, "quantity": ln.quantity, "price_cents": ln.price_cents} for ln in lines]}


def _lines(session: Session, order_id: int) -> list[OrderLine]:
    return list(session.scalars(select(OrderLine).where(OrderLine.order_id == order_id)))


def place(db: Database, provider: PaymentProvider, user_id: str, store_id: int, lines: list[Line]) -> dict[str, Any]:
    merged: dict[int, int] = {}
    for line in lines:
        merged[line.sku_id] = merged.get(line.sku_id, 0) + line.quantity
    with db.transaction() as session:
        store = session.get(Store, store_id)
        if store is None or store.status != "open":
            raise NotFound(f"no open store with id {store_id}")
        skus = {s.id: s for s in session.scalars(select(Sku).where(Sku.id.in_(merged)))}
        for sku_id in merged:
            if sku_id not in skus or skus[sku_id].merchant_id != store.merchant_id:
                raise InvalidInput(f"store {store_id} does not sell sku {sku_id}")
        for sku_id, quantity in sorted(merged.items()):  # a fixed order: concurrent orders cannot deadlock
            taken = session.execute(
                update(Stock).where(Stock.store_id == store_id, Stock.sku_id == sku_id, Stock.quantity >= quantity)
                .values(quantity=Stock.quantity - quantity)
            ).rowcount  # type: ignore[attr-defined]
            if taken != 1:
                raise Conflict(f"not enough of sku {sku_id} ({skus[sku_id].name}) at store {store_id}")
        total = sum(skus[s].price_cents * q for s, q in merged.items())
        order = Order(user_id=user_id, store_id=store_id, status="pending", total_cents=total,
                      payment_ref=provider.new_ref(), pickup_code=_pickup_code(), created_at=datetime.now(UTC))
        session.add(order)
        session.flush()
        order_lines = [OrderLine(order_id=order.id, sku_id=s, quantity=q, price_cents=skus[s].price_cents)
                       for s, q in sorted(merged.items())]
        session.add_all(order_lines)
        return {**public(order, order_lines), "payment": provider.checkout(order.payment_ref, total)}


def _pickup_code() -> str:
    return "P" + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(9))


def confirm_payment(db: Database, settings: Settings, ref: str) -> dict[str, Any]:
    """Apply a verified payment: pending -> paid once; a repeat is answered with the current state."""
    now = datetime.now(UTC)
    with db.transaction() as session:
        order = session.scalar(select(Order).where(Order.payment_ref == ref))
        if order is None:
            raise NotFound("no order for this payment")
        won = session.execute(
            update(Order).where(Order.id == order.id, Order.status == "pending").values(status="paid", paid_at=now)
        ).rowcount  # type: ignore[attr-defined]
        if won != 1:
            if order.status in ("cancelled", "refunded"):
                raise Conflict(f"order {order.id} was {order.status} before the payment arrived")
            return {"order_id": order.id, "status": order.status, "repeat": True}
        lines = _lines(session, order.id)
        enqueue(session, store_channel(order.store_id), {
            "type": "order", "ts": now.isoformat(), "store_id": order.store_id, "order_id": order.id,
            "status": "paid", "user_ref": user_ref(settings.secret_key, order.store_id, order.user_id),
            "items": [{"sku_id": ln.sku_id, "quantity": ln.quantity} for ln in lines]})
        record_event(session, order.user_id, "order", order.store_id, {"order_id": order.id,
                                                                       "total_cents": order.total_cents})
        return {"order_id": order.id, "status": "paid", "repeat": False}


def _staff_order(session: Session, order_id: int, store_id: int | None) -> Order:
    order = session.get(Order, order_id, with_for_update=True)
    if order is None or (store_id is not None and order.store_id != store_id):
        raise NotFound(f"no order {order_id} at this store")
    return order


def mark_ready(db: Database, order_id: int, store_id: int | None) -> dict[str, Any]:
    with db.transaction() as session:
        order = _staff_order(session, order_id, store_id)
        if order.status != "paid":
            raise Conflict(f"order {order_id} is {order.status}, not paid")
        order.status, order.ready_at = "ready", datetime.now(UTC)
        return public(order, _lines(session, order.id))


def pick_up(db: Database, settings: Settings, store_id: int, code: str) -> dict[str, Any]:
    """Hand over a ready order by its pickup code or QR; a second pickup is a conflict."""
    now = datetime.now(UTC)
    with db.transaction() as session:
        if looks_like_qr(code):
            order_id, holder = read_qr_token(settings, code, "order")
            order = session.get(Order, order_id)
            if order is not None and order.user_id != holder:
                order = None
        else:
            order = session.scalar(select(Order).where(Order.pickup_code == code.strip().upper()))
        if order is None or order.store_id != store_id:
            raise NotFound("no order with this code at this store")
        won = session.execute(
            update(Order).where(Order.id == order.id, Order.status == "ready").values(status="picked_up",
                                                                                      picked_up_at=now)
        ).rowcount  # type: ignore[attr-defined]
        if won != 1:
            session.refresh(order)
            raise Conflict(f"order {order.id} is {order.status}: it cannot be picked up")
        record_event(session, order.user_id, "pickup", store_id, {"order_id": order.id})
        session.refresh(order)
        return public(order, _lines(session, order.id))


def cancel(db: Database, provider: PaymentProvider, order_id: int, user_id: str | None,
           store_id: int | None) -> dict[str, Any]:
    """Before pickup: a pending order is cancelled, a paid one refunded; its stock goes back on the shelf."""
    with db.transaction() as session:
        order = session.get(Order, order_id, with_for_update=True)
        if order is None:
            raise NotFound(f"no order {order_id}")
        if (user_id is not None and order.user_id != user_id) or (store_id is not None and order.store_id != store_id):
            raise Forbidden("not your order") if user_id is not None else NotFound(f"no order {order_id} here")
        if order.status not in ("pending", "paid", "ready"):
            raise Conflict(f"order {order_id} is {order.status}: too late to cancel")
        refund = order.status != "pending"
        order.status, order.closed_at = ("refunded" if refund else "cancelled"), datetime.now(UTC)
        lines = _lines(session, order.id)
        for line in lines:
            session.execute(update(Stock).where(Stock.store_id == order.store_id, Stock.sku_id == line.sku_id)
                            .values(quantity=Stock.quantity + line.quantity))
        if refund:
            provider.refund(order.payment_ref, order.total_cents)
        return public(order, lines)


def expire_unpaid(db: Database, provider: PaymentProvider, older_than_s: float) -> list[int]:
    """Cancel orders left unpaid too long, so they stop holding stock; returns their ids."""
    cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
    with db.session() as session:
        stale = list(session.scalars(select(Order.id).where(Order.status == "pending", Order.created_at < cutoff)))
    expired = []
    for order_id in stale:
        try:
            cancel(db, provider, order_id, None, None)
            expired.append(order_id)
        except Conflict:
            pass  # paid or cancelled meanwhile: nothing to do
    return expired

