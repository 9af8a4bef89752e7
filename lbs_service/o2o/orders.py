"""Orders paid online and picked up in the store.

Stock is taken when the order is placed, by a conditional decrement per line (no line can take
what is not there, under any concurrency), and given back when an order is cancelled or refunded.

Every state change is decided on the row the database returns (UPDATE ... RETURNING, or the row
re-read under lock), never on a session's stale copy. Money is kept in a ledger (one charge, at
most one refund per order): a payment callback delivered twice pays once, and a payment that
lands on an order already cancelled or expired is recorded and refunded at once - the order
ends `refunded`, the provider and the user are told, and no order ever ends `cancelled` holding
money. Staff consoles see every status change of their store's orders (through the outbox).
"""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lbs_service.auth import Principal
from lbs_service.errors import Conflict, Forbidden, InvalidInput, NotFound
from lbs_service.invalidation import touch_customer
from lbs_service.o2o.access import acts_for_store
from lbs_service.o2o.campaigns import targets
from lbs_service.o2o.members import record_event
from lbs_service.o2o.offers import Offer, discount_cents, offer_of
from lbs_service.o2o.payments import PaymentProvider
from lbs_service.o2o.points import earn, take_back
from lbs_service.o2o.pseudonyms import user_ref
from lbs_service.o2o.qr import looks_like_qr, read_qr_token
from lbs_service.outbox.pushes import order_ready_notice, queue_pushes
from lbs_service.outbox.writer import enqueue
from lbs_service.responses import (
    OrderLinePublic,
    OrderPublic,
    OrderStaffView,
    PaymentApplied,
    PaymentRefunded,
    PlacedOrder,
    QueuedOrder,
    QueueItem,
)
from lbs_service.settings import SigningSettings
from lbs_service.statuses import OPEN_ORDER_STATUSES, CouponStatus, OrderStatus, PaymentKind, StoreStatus
from lbs_service.storage.db import Database, insert_for
from lbs_service.storage.models import Campaign, Coupon, Order, OrderLine, Payment, Sku, Stock, Store
from push.messages import store_channel, user_channel

_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@dataclass(frozen=True)
class Line:
    sku_id: int
    quantity: int


def staff_view(order: Order, lines: list[OrderLine]) -> OrderStaffView:
    """The order as its store's staff see it: without the pickup code (staff who could read it could
    hand an order over without the customer)."""
    return OrderStaffView(**_fields(order, lines))


def customer_view(order: Order, lines: list[OrderLine]) -> OrderPublic:
    """The order as its customer sees it, pickup code included."""
    return OrderPublic(**_fields(order, lines), pickup_code=order.pickup_code)


def public(order: Order, lines: list[OrderLine], for_customer: bool) -> OrderPublic | OrderStaffView:
    return customer_view(order, lines) if for_customer else staff_view(order, lines)


def _fields(order: Order, lines: list[OrderLine]) -> dict[str, Any]:
    return {"id": order.id, "store_id": order.store_id, "status": OrderStatus(order.status),
            "total_cents": order.total_cents, "discount_cents": order.discount_cents or 0,
            "coupon_id": order.coupon_id, "created_at": order.created_at.isoformat(),
            "lines": [OrderLinePublic(sku_id=ln.sku_id, quantity=ln.quantity, price_cents=ln.price_cents)
                      for ln in lines]}


def _lines(session: Session, order_id: int) -> list[OrderLine]:
    return list(session.scalars(select(OrderLine).where(OrderLine.order_id == order_id)))


def place(db: Database, provider: PaymentProvider, user_id: str, store_id: int, lines: list[Line],
          now: datetime, coupon_code: str | None = None, district: str | None = None) -> PlacedOrder:
    """Take the stock and open the order; with a coupon, its offer comes off the total and the
    coupon is spent on this order (given back if the order is cancelled before pickup)."""
    merged: dict[int, int] = {}
    for line in lines:
        merged[line.sku_id] = merged.get(line.sku_id, 0) + line.quantity
    with db.transaction() as session:
        store = session.get(Store, store_id)
        if store is None or store.status != StoreStatus.OPEN:
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
        subtotal = sum(skus[s].price_cents * q for s, q in merged.items())
        coupon = _coupon_for(session, user_id, coupon_code, store, district, now) if coupon_code else None
        discount = discount_cents(coupon[1], subtotal) if coupon else 0
        order = Order(user_id=user_id, store_id=store_id, status=OrderStatus.PENDING, total_cents=subtotal - discount,
                      discount_cents=discount, coupon_id=coupon[0].id if coupon else None,
                      payment_ref=provider.new_ref(), pickup_code=_pickup_code(), created_at=now)
        session.add(order)
        session.flush()
        if coupon is not None:
            _spend_coupon(session, coupon[0], order, now)
        order_lines = [OrderLine(order_id=order.id, sku_id=s, quantity=q, price_cents=skus[s].price_cents)
                       for s, q in sorted(merged.items())]
        session.add_all(order_lines)
        return PlacedOrder(**_fields(order, order_lines), pickup_code=order.pickup_code,
                           payment=provider.checkout(order.payment_ref, order.total_cents))


def _coupon_for(session: Session, user_id: str, code: str, store: Store, district: str | None,
                now: datetime) -> tuple[Coupon, Offer]:
    """The user's own unspent coupon with an offer valid at this store now, or a clear refusal."""
    coupon = session.scalar(select(Coupon).where(Coupon.code == code.strip().upper()))
    if coupon is None or coupon.user_id != user_id:
        raise NotFound("you hold no coupon with this code")
    campaign = session.get(Campaign, coupon.campaign_id)
    assert campaign is not None
    if coupon.status != CouponStatus.CLAIMED:
        raise Conflict("this coupon has been used")
    if not (campaign.starts_at <= now < campaign.ends_at):
        raise Conflict("this coupon is not valid now")
    if not targets(campaign, store, district):
        raise Forbidden(f"this coupon is not valid at store {store.id}")
    offer = offer_of(campaign.offer)
    if offer is None:
        raise InvalidInput("this coupon has no offer to take off an order (show it at the till)")
    return coupon, offer


def _spend_coupon(session: Session, coupon: Coupon, order: Order, now: datetime) -> None:
    won = session.execute(update(Coupon).where(Coupon.id == coupon.id, Coupon.status == CouponStatus.CLAIMED)
                          .values(status=CouponStatus.REDEEMED, redeemed_at=now, order_id=order.id)
                          ).rowcount  # type: ignore[attr-defined]
    if won != 1:
        raise Conflict("this coupon has been used")  # a concurrent order or redemption took it first
    touch_customer(session, coupon.user_id)


def _give_back_coupon(session: Session, order: Order) -> None:
    """An order cancelled or refunded before pickup returns the coupon it spent."""
    if order.coupon_id is None:
        return
    session.execute(update(Coupon).where(Coupon.id == order.coupon_id, Coupon.order_id == order.id,
                                         Coupon.status == CouponStatus.REDEEMED)
                    .values(status=CouponStatus.CLAIMED, redeemed_at=None, order_id=None))


def visible_order(db: Database, principal: Principal, order_id: int) -> tuple[Order, list[OrderLine]]:
    """The order, to its customer, the staff of its store and the operator; to anyone else it does not
    exist (404: others' orders are not disclosed)."""
    with db.session() as session:
        order = session.get(Order, order_id)
        lines = _lines(session, order_id)
    if order is None or not (
        (principal.role == "user" and order.user_id == principal.subject)
        or acts_for_store(principal, order.store_id)
    ):
        raise NotFound(f"no order {order_id} for you")
    return order, lines


def payer_of(db: Database, payment_ref: str) -> str | None:
    """The user whose order carries this payment reference."""
    with db.session() as session:
        return session.scalar(select(Order.user_id).where(Order.payment_ref == payment_ref))


QUEUE_LIMIT = 500


def store_queue(db: Database, secret: str, store_id: int, statuses: tuple[OrderStatus, ...]) -> list[QueuedOrder]:
    """A store's orders in these statuses, oldest first: what its console shows when it opens. Staff
    see the customer under the store's pseudonym and never the pickup code (the customer shows it)."""
    with db.session() as session:
        found = list(session.scalars(select(Order).where(Order.store_id == store_id, Order.status.in_(statuses))
                                     .order_by(Order.id).limit(QUEUE_LIMIT)))
        lines = session.execute(select(OrderLine.order_id, OrderLine.sku_id, OrderLine.quantity, Sku.name)
                                .join(Sku, Sku.id == OrderLine.sku_id)
                                .where(OrderLine.order_id.in_([o.id for o in found]))
                                .order_by(OrderLine.order_id, OrderLine.sku_id)).all()
    items: dict[int, list[QueueItem]] = {}
    for order_id, sku_id, quantity, name in lines:
        items.setdefault(order_id, []).append(QueueItem(sku_id=sku_id, name=name, quantity=quantity))
    return [QueuedOrder(id=o.id, status=OrderStatus(o.status), total_cents=o.total_cents,
                        created_at=o.created_at.isoformat(), user_ref=user_ref(secret, store_id, o.user_id),
                        items=items.get(o.id, [])) for o in found]


def _pickup_code() -> str:
    return "P" + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(9))


def _ledger(session: Session, is_postgres: bool, order: Order, kind: PaymentKind, now: datetime) -> bool:
    """Record a charge or refund once; False when the ledger already has it."""
    statement = insert_for(is_postgres)(Payment).values(order_id=order.id, kind=kind, amount_cents=order.total_cents,
                                                        at=now)
    return session.execute(statement.on_conflict_do_nothing().returning(Payment.id)).first() is not None


def _tell(session: Session, secret: str, order: Order, now: datetime, items: list[OrderLine] | None = None) -> None:
    """The store's consoles and the customer learn the order's new status (and workers drop what they
    cached of the customer's orders)."""
    touch_customer(session, order.user_id)
    body: dict[str, Any] = {"type": "order", "ts": now.isoformat(), "store_id": order.store_id,
                            "order_id": order.id, "status": order.status,
                            "user_ref": user_ref(secret, order.store_id, order.user_id)}
    if items is not None:
        names = dict(session.execute(select(Sku.id, Sku.name).where(Sku.id.in_([ln.sku_id for ln in items]))).all())
        body["items"] = [{"sku_id": ln.sku_id, "name": names.get(ln.sku_id), "quantity": ln.quantity} for ln in items]
    enqueue(session, store_channel(order.store_id), body, subject=order.user_id)
    enqueue(session, user_channel(order.user_id), {"type": "order", "ts": now.isoformat(), "order_id": order.id,
                                                   "store_id": order.store_id, "status": order.status},
            subject=order.user_id)
    if order.status == OrderStatus.READY:  # the one status worth a push when the app is closed
        store_name = session.scalar(select(Store.name).where(Store.id == order.store_id)) or ""
        queue_pushes(session, [order_ready_notice(order.user_id, store_name, order.id)], now)


def confirm_payment(db: Database, provider: PaymentProvider, secret: str, ref: str,
                    now: datetime) -> PaymentApplied | PaymentRefunded:
    """Apply a verified payment: pending -> paid once; on a cancelled order, charge and refund at once."""
    with db.transaction() as session:
        paid_id = session.scalar(update(Order).where(Order.payment_ref == ref, Order.status == OrderStatus.PENDING)
                                 .values(status=OrderStatus.PAID, paid_at=now).returning(Order.id))
        order = session.scalar(select(Order).where(Order.payment_ref == ref).with_for_update()
                               .execution_options(populate_existing=True))
        if order is None:
            raise NotFound("no order for this payment")
        if paid_id is not None:
            _ledger(session, db.is_postgres, order, PaymentKind.CHARGE, now)
            _tell(session, secret, order, now, _lines(session, order.id))
            record_event(session, order.user_id, "order", order.store_id,
                         {"order_id": order.id, "total_cents": order.total_cents}, now)
            return PaymentApplied(order_id=order.id, status=OrderStatus.PAID, repeat=False)
        if order.status == OrderStatus.CANCELLED:  # the money came after the cancel: take it and give it back
            _ledger(session, db.is_postgres, order, PaymentKind.CHARGE, now)
            _refund(session, db.is_postgres, provider, secret, order, now)
            return PaymentRefunded(order_id=order.id, status=OrderStatus.REFUNDED, repeat=False, refunded=True)
        return PaymentApplied(order_id=order.id, status=OrderStatus(order.status), repeat=True)


def _refund(session: Session, is_postgres: bool, provider: PaymentProvider, secret: str, order: Order,
            now: datetime) -> None:
    order.status, order.closed_at = OrderStatus.REFUNDED, now
    if _ledger(session, is_postgres, order, PaymentKind.REFUND, now):
        provider.refund(order.payment_ref, order.total_cents)
    _give_back_coupon(session, order)
    take_back(session, order.user_id, "pickup", str(order.id), now)  # whatever the order earned
    _tell(session, secret, order, now)


def _staff_order(session: Session, order_id: int, store_id: int | None) -> Order:
    order = session.get(Order, order_id, with_for_update=True, populate_existing=True)
    if order is None or (store_id is not None and order.store_id != store_id):
        raise NotFound(f"no order {order_id} at this store")
    return order


def mark_ready(db: Database, secret: str, order_id: int, store_id: int | None, now: datetime) -> OrderStaffView:
    with db.transaction() as session:
        order = _staff_order(session, order_id, store_id)
        if order.status != OrderStatus.PAID:
            raise Conflict(f"order {order_id} is {order.status}, not paid")
        order.status, order.ready_at = OrderStatus.READY, now
        _tell(session, secret, order, now)
        return staff_view(order, _lines(session, order.id))


def pick_up(db: Database, settings: SigningSettings, store_id: int, code: str, now: datetime,
            points: int = 0) -> OrderStaffView:
    """Hand over a ready order by its pickup code or QR (the member earns `points`); a second pickup
    is a conflict."""
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
        won = session.scalar(update(Order).where(Order.id == order.id, Order.status == OrderStatus.READY)
                             .values(status=OrderStatus.PICKED_UP, picked_up_at=now).returning(Order.id))
        session.refresh(order)
        if won is None:
            raise Conflict(f"order {order.id} is {order.status}: it cannot be picked up")
        record_event(session, order.user_id, "pickup", store_id, {"order_id": order.id}, now)
        earn(session, order.user_id, points, "pickup", str(order.id), now)
        _tell(session, settings.secret_key, order, now)
        return staff_view(order, _lines(session, order.id))


def cancel(db: Database, provider: PaymentProvider, secret: str, order_id: int, user_id: str | None,
           store_id: int | None, now: datetime) -> OrderPublic | OrderStaffView:
    """Before pickup: a pending order is cancelled, a paid one refunded; its stock goes back on the shelf.

    Someone else's order answers exactly as a missing one does (404): no existence oracle.
    """
    with db.transaction() as session:
        order = session.get(Order, order_id, with_for_update=True, populate_existing=True)
        if order is None or (user_id is not None and order.user_id != user_id) or (
                store_id is not None and order.store_id != store_id):
            raise NotFound(f"no order {order_id} for you")
        if order.status not in OPEN_ORDER_STATUSES:
            raise Conflict(f"order {order_id} is {order.status}: too late to cancel")
        lines = _restock(session, order)
        if order.status == OrderStatus.PENDING:
            order.status, order.closed_at = OrderStatus.CANCELLED, now
            _give_back_coupon(session, order)
            _tell(session, secret, order, now)
        else:
            _refund(session, db.is_postgres, provider, secret, order, now)
        return public(order, lines, for_customer=user_id is not None)


RETURN_WINDOW = timedelta(days=14)


def return_order(db: Database, provider: PaymentProvider, secret: str, order_id: int, store_id: int | None,
                 now: datetime) -> OrderStaffView:
    """Goods brought back to the store within RETURN_WINDOW of their pickup: the order is refunded,
    its lines go back on the shelf, its coupon back to the customer, and the points the pickup earned
    are taken back (as far as the balance allows: it never goes below zero). Staff of the order's store
    or the operator; anyone else's order answers as a missing one."""
    with db.transaction() as session:
        order = _staff_order(session, order_id, store_id)
        if order.status != OrderStatus.PICKED_UP or order.picked_up_at is None:
            raise Conflict(f"order {order_id} is {order.status}: only a picked-up order is returned (cancel before)")
        if now - order.picked_up_at > RETURN_WINDOW:
            raise Conflict(f"order {order_id} was picked up more than {RETURN_WINDOW.days} days ago")
        lines = _restock(session, order)
        _refund(session, db.is_postgres, provider, secret, order, now)
        record_event(session, order.user_id, "return", order.store_id, {"order_id": order.id}, now)
        return staff_view(order, lines)


def _restock(session: Session, order: Order) -> list[OrderLine]:
    lines = _lines(session, order.id)
    for line in lines:
        session.execute(update(Stock).where(Stock.store_id == order.store_id, Stock.sku_id == line.sku_id)
                        .values(quantity=Stock.quantity + line.quantity))
    return lines


def expire_unpaid(db: Database, secret: str, older_than_s: float, now: datetime) -> list[int]:
    """Cancel orders left unpaid too long, so they stop holding stock; returns their ids.

    Each is re-read under lock and cancelled only if it is still pending: an order paid in between
    is left alone (a late payment on an expired order is refunded by confirm_payment).
    """
    cutoff = now - timedelta(seconds=older_than_s)
    with db.session() as session:
        stale = list(session.scalars(select(Order.id).where(Order.status == OrderStatus.PENDING,
                                                            Order.created_at < cutoff)))
    expired = []
    for order_id in stale:
        with db.transaction() as session:
            order = session.get(Order, order_id, with_for_update=True, populate_existing=True)
            if order is None or order.status != OrderStatus.PENDING:
                continue
            _restock(session, order)
            order.status, order.closed_at = OrderStatus.CANCELLED, now
            _give_back_coupon(session, order)
            _tell(session, secret, order, now)
            expired.append(order_id)
    return expired
