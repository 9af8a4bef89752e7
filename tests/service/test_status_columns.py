"""Status columns hold the enums of statuses.py: read back as members, stored as the plain values the
migrations and the API use, and a value outside the enum refused before it reaches a row."""

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import StatementError

from lbs_service.settings import Settings
from lbs_service.statuses import CampaignLevel, OrderStatus, StoreStatus
from lbs_service.storage.db import Database
from lbs_service.storage.models import Campaign, Merchant, Order, Store
from tests.clock import T0, at


def _store(db: Database) -> int:
    with db.transaction() as session:
        merchant = Merchant(name="m")
        session.add(merchant)
        session.flush()
        store = Store(merchant_id=merchant.id, source_id="s1", name="s", category="cafe", lat=32.0, lng=118.0,
                      h3_r9=0)
        session.add(store)
        session.flush()
        return store.id


@pytest.mark.parametrize("settings_fixture", ["sqlite_settings", "pg_settings"])
def test_statuses_read_back_as_members_and_are_stored_as_their_values(settings_fixture, request):
    settings: Settings = request.getfixturevalue(settings_fixture)
    db = Database(settings)
    store_id = _store(db)
    with db.transaction() as session:
        session.add(Order(user_id="u", store_id=store_id, status=OrderStatus.READY, total_cents=100,
                          payment_ref="r1", pickup_code="P1", created_at=T0))
        session.add(Campaign(title="c", level=CampaignLevel.STORE, store_ids=[store_id], starts_at=T0, created_by="t",
                             ends_at=at(3600)))
    with db.session() as session:
        order = session.scalars(select(Order)).one()
        store = session.get(Store, store_id)
        campaign = session.scalars(select(Campaign)).one()
        raw = session.execute(text("SELECT status FROM orders")).scalar_one()
        level = session.execute(text("SELECT level FROM campaigns")).scalar_one()
    assert order.status is OrderStatus.READY and raw == "ready" and type(raw) is str
    assert store is not None and store.status is StoreStatus.OPEN  # the default is a member too
    assert campaign.level is CampaignLevel.STORE and level == "store"


@pytest.mark.parametrize("settings_fixture", ["sqlite_settings", "pg_settings"])
def test_a_status_outside_its_enum_is_refused_and_nothing_is_written(settings_fixture, request):
    settings: Settings = request.getfixturevalue(settings_fixture)
    db = Database(settings)
    store_id = _store(db)
    with pytest.raises(StatementError), db.transaction() as session:
        session.add(Order(user_id="u", store_id=store_id, status="shipped", total_cents=100,
                          payment_ref="r2", pickup_code="P2", created_at=T0))
    with db.session() as session:
        assert session.scalars(select(Order)).all() == []
