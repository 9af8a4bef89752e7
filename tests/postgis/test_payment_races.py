"""A payment racing a cancel (or the unpaid-order expiry) on PostgreSQL: whatever wins, no order ends
cancelled while holding money. A payment that lands on a cancelled or expired order is recorded and
refunded at once: the order ends refunded, the provider refunds, the user is told."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from lbs_service.errors import Conflict
from lbs_service.o2o import orders
from lbs_service.o2o.payments import SimulatedProvider
from lbs_service.statuses import OrderStatus, PaymentKind
from lbs_service.storage.db import Database
from lbs_service.storage.models import Merchant, Order, OutboxMessage, Payment, Sku, Stock, Store
from lbs_service.storage.stores import StoreRepository
from tests.clock import T0, at
from tests.faults.report import FaultRun, record

pytestmark = pytest.mark.postgis
RACES = 100


def _shop(db: Database) -> tuple[int, int]:
    StoreRepository(db).upsert_many("Race", [{
        "source_id": "R1", "name": "Race shop", "category": "cafe", "hours": None, "timezone": "Asia/Shanghai",
        "status": "open", "attributes": {}, "lat": 32.0, "lng": 118.0, "address": None, "phone": None}])
    with db.transaction() as session:
        store_id = session.scalars(select(Store.id)).one()
        merchant = session.scalars(select(Merchant.id)).one()
        sku = Sku(merchant_id=merchant, code="TEA", name="Tea", price_cents=700)
        session.add(sku)
        session.flush()
        session.add(Stock(store_id=store_id, sku_id=sku.id, quantity=10 * RACES))
        return store_id, sku.id


def _ledger(db: Database, order_id: int) -> dict[str, int]:
    with db.session() as session:
        rows = session.execute(select(Payment.kind, Payment.amount_cents).where(Payment.order_id == order_id)).all()
    return {kind: cents for kind, cents in rows}


def test_a_hundred_payments_racing_cancels_and_expiries_never_keep_money(pg_settings):
    db = Database(pg_settings)
    provider = SimulatedProvider(pg_settings)
    secret = pg_settings.secret_key
    store_id, sku = _shop(db)
    placed = [orders.place(db, provider, f"racer-{n}", store_id, [orders.Line(sku, 1)], T0) for n in range(RACES)]
    outcomes: list[tuple[str, str]] = []
    lock = threading.Lock()

    def race(n: int) -> None:
        order = placed[n]
        start = threading.Barrier(2)

        def pay() -> str:
            start.wait()
            return str(orders.confirm_payment(db, provider, secret, order.payment.ref, at(60)).status)

        def undo() -> str:
            start.wait()
            if n % 2:  # the user cancels (unless an expiry run of another race got there first)...
                try:
                    return str(orders.cancel(db, provider, secret, order.id, f"racer-{n}", None, at(60)).status)
                except Conflict:
                    return "too late"
            expired = orders.expire_unpaid(db, secret, 0, at(3600))  # ...or the unpaid-order expiry runs
            return "cancelled" if order.id in expired else "not expired"

        with ThreadPoolExecutor(max_workers=2) as pool:
            paid, undone = pool.submit(pay), pool.submit(undo)
            with lock:
                outcomes.append((paid.result(), undone.result()))

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(race, range(RACES)))
    held, wrong = 0, []
    with db.session() as session:
        final = {o.id: o.status for o in session.scalars(select(Order))}
    for order in placed:
        status, ledger = final[order.id], _ledger(db, order.id)
        charged, refunded = PaymentKind.CHARGE in ledger, PaymentKind.REFUND in ledger
        if status == OrderStatus.CANCELLED and charged:
            held += 1
        ok = (status == OrderStatus.PAID and charged and not refunded) or (
            status == OrderStatus.REFUNDED and charged and refunded) or (
            status == OrderStatus.CANCELLED and not charged)
        if not ok:
            wrong.append((order.id, status, ledger))
    refunds = {ref for ref, _ in provider.refunds}
    told = 0
    with db.session() as session:
        for row in session.scalars(select(OutboxMessage).where(OutboxMessage.channel.like("user:%"))):
            told += row.payload.get("status") == OrderStatus.REFUNDED
    late = [o for o in placed if final[o.id] == OrderStatus.REFUNDED]
    record(FaultRun("a payment racing a cancel or expiry (PostgreSQL)", RACES * 2, 0, 0, RACES, held, 0))
    assert wrong == [] and held == 0
    assert {o.payment.ref for o in late} <= refunds  # the provider gave every such payment back
    assert told >= len(late)  # and the user heard of it
    assert any(s == OrderStatus.REFUNDED for s in final.values())  # the race really happened both ways
    assert any(s == OrderStatus.PAID for s in final.values())
    db.dispose()
