"""The marketing tools' promises under real concurrency on PostgreSQL: no prize beyond its stock and
no player beyond their plays per day, one play per Idempotency-Key, no points balance below zero,
and a coupon spent once whether at the till or on an order."""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from lbs_service.errors import Conflict, DomainError
from lbs_service.o2o import exchanges, games, orders
from lbs_service.o2o.payments import SimulatedProvider
from lbs_service.o2o.points import earn
from lbs_service.o2o.redemption import redeem
from lbs_service.records import record_of
from lbs_service.storage.db import Database
from lbs_service.storage.models import (
    Campaign,
    Coupon,
    GamePlay,
    GamePrize,
    Merchant,
    PointsBalance,
    PointsEntry,
    Sku,
    Stock,
    Store,
)
from lbs_service.storage.stores import StoreRepository
from tests.clock import T0, TIERS
from tests.faults.report import FaultRun, record

pytestmark = pytest.mark.postgis
OPERATOR = type("P", (), {"role": "operator", "subject": "op", "store_id": None, "merchant_id": None})()


def _world(db):
    StoreRepository(db).upsert_many("Races", [{
        "source_id": "M1", "name": "Race mart", "category": "convenience", "hours": None,
        "timezone": "Asia/Shanghai", "status": "open", "attributes": {}, "lat": 32.0, "lng": 118.0, "address": None,
        "phone": None}])
    with db.transaction() as session:
        store = session.scalars(select(Store)).one()
        merchant = session.scalars(select(Merchant.id)).one()
        sku = Sku(merchant_id=merchant, code="TEA", name="Tea", price_cents=700)
        session.add(sku)
        session.flush()
        session.add(Stock(store_id=store.id, sku_id=sku.id, quantity=100_000))
        return record_of(store), sku.id


def _campaign(db, store_id, **fields):
    with db.transaction() as session:
        row = Campaign(**{"title": "Race", "level": "store", "store_ids": [store_id],
                          "starts_at": T0 - timedelta(days=1), "ends_at": T0 + timedelta(days=1), "per_user_limit": 1,
                          "priority": 0, "claimed": 0, "created_by": "test", **fields})
        session.add(row)
        session.flush()
        return row.id


def test_games_hold_stock_daily_plays_and_keys(pg_settings):
    db = Database(pg_settings)
    store, _ = _world(db)
    prize = _campaign(db, store.id)
    game = games.create(db, OPERATOR, games.NewGame(
        "Race wheel", "wheel", T0 - timedelta(days=1), T0 + timedelta(days=1), 2,
        (games.NewPrize(prize, 10_000, 10),)))
    start = threading.Barrier(16)

    def play(n):
        if n < 16:
            start.wait()
        return games.play(db, game, f"racer-{n % 30}", None, T0, TIERS)

    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(play, range(120)))  # 30 players, 4 tries each, 2 allowed
    played = [o for o in outcomes if o.status == 201]
    assert len(played) == 60 and all(o.status in (201, 409) for o in outcomes)
    wins = Counter(o.body["outcome"] for o in played)
    assert wins["prize"] == 10  # the stock, exactly
    with db.session() as session:
        assert session.scalar(select(GamePrize.won)) == 10
        assert session.scalar(select(func.count()).select_from(Coupon).where(Coupon.campaign_id == prize)) == 10
        per_player = Counter(session.scalars(select(GamePlay.user_id)))
    assert set(per_player.values()) == {2}

    with ThreadPoolExecutor(8) as pool:
        keyed = list(pool.map(lambda _: games.play(db, game, "keyholder", "same-key", T0, TIERS), range(8)))
    answers = {o.body.get("play_id") for o in keyed if o.status == 201}
    assert len(answers) == 1, [o.body for o in keyed]  # one play, the same answer to every copy
    record(FaultRun("game plays racing (30 players, stock 10)", len(outcomes) + 8, 0, committed=len(played) + 1,
                    duplicates=wins["prize"] - 10))


def test_concurrent_exchanges_never_overdraw_points(pg_settings):
    db = Database(pg_settings)
    store, _ = _world(db)
    campaigns = [_campaign(db, store.id, points_price=30, title=f"C{n}") for n in range(20)]
    with db.transaction() as session:
        earn(session, "spender", 100, "test_gift", "1", T0)
    start = threading.Barrier(20)

    def buy(campaign_id):
        start.wait()
        try:
            return exchanges.exchange(db, campaign_id, "spender", None, T0, TIERS).status
        except Conflict:
            return 409

    with ThreadPoolExecutor(20) as pool:
        statuses = Counter(pool.map(buy, campaigns))
    assert statuses == {201: 3, 409: 17}
    with db.session() as session:
        assert session.scalar(select(PointsBalance.balance)) == 10
        assert session.scalar(select(func.sum(PointsEntry.delta))) == 10  # the ledger agrees with the balance


def test_a_coupon_is_spent_once_between_till_and_orders(pg_settings):
    db = Database(pg_settings)
    store, sku = _world(db)
    campaign = _campaign(db, store.id, offer={"kind": "amount", "value": 100, "min_spend_cents": 0})
    provider = SimulatedProvider(pg_settings)
    with db.transaction() as session:
        codes = []
        for n in range(30):
            coupon = Coupon(campaign_id=campaign, user_id=f"holder-{n}", code=f"CRACE{n:05d}", status="claimed",
                            claimed_at=T0)
            session.add(coupon)
            codes.append(coupon.code)

    def race(n):
        start = threading.Barrier(4)

        def at_till():
            start.wait()
            return redeem(db, pg_settings, store, None, "staff", codes[n], 1000, None, T0, 0).status == 200

        def on_order():
            start.wait()
            try:
                orders.place(db, provider, f"holder-{n}", store.id, [orders.Line(sku, 1)], T0, codes[n])
                return True
            except DomainError:
                return False

        with ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(at_till), pool.submit(on_order), pool.submit(at_till), pool.submit(on_order)]
            return sum(f.result() for f in futures)

    spent = [race(n) for n in range(30)]
    assert spent == [1] * 30
    record(FaultRun("one coupon at the till and on orders at once", 120, 0, committed=sum(spent),
                    duplicates=sum(s - 1 for s in spent if s > 1)))
