"""Claims: one per user per campaign, never past the budget, only while the campaign runs."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from lbs_service.errors import Conflict, NotFound
from lbs_service.o2o.coupons import claim
from lbs_service.storage.db import Database
from lbs_service.storage.models import Campaign, Coupon
from tests.clock import T0, TIERS
from tests.conftest import client_for


def make_campaign(db, budget=None, starts=-1, ends=1):
    now = T0
    with db.transaction() as session:
        row = Campaign(title="T", level="platform", starts_at=now + timedelta(days=starts),
                       ends_at=now + timedelta(days=ends), budget=budget, per_user_limit=1, priority=0, claimed=0,
                       created_by="test")
        session.add(row)
        session.flush()
        return row.id


def test_one_coupon_per_user_and_campaign(sqlite_settings):
    db = Database(sqlite_settings)
    cid = make_campaign(db)
    first = claim(db, cid, "u1", T0, TIERS)
    assert len(first.code) == 10
    with pytest.raises(Conflict):
        claim(db, cid, "u1", T0, TIERS)
    with db.session() as session:
        assert session.get(Campaign, cid).claimed == 1  # the refused claim took no budget
    with pytest.raises(NotFound):
        claim(db, 999, "u1", T0, TIERS)
    with pytest.raises(Conflict):
        claim(db, make_campaign(db, starts=1, ends=2), "u1", T0, TIERS)  # not started yet


def concurrent_claims(settings, budget, users):
    db = Database(settings)
    cid = make_campaign(db, budget=budget)

    def attempt(n):
        try:
            claim(db, cid, f"user-{n}", T0, TIERS)
            return True
        except Conflict:
            return False

    with ThreadPoolExecutor(max_workers=20) as pool:
        won = sum(pool.map(attempt, range(users)))
    with db.session() as session:
        coupons = session.query(Coupon).filter(Coupon.campaign_id == cid).count()
        claimed = session.get(Campaign, cid).claimed
    return won, coupons, claimed


@pytest.mark.postgis
def test_budget_holds_under_100_concurrent_claims_on_postgis(pg_settings):
    assert concurrent_claims(pg_settings, budget=10, users=100) == (10, 10, 10)


def test_budget_holds_under_concurrent_claims_on_the_embedded_default(sqlite_settings):
    assert concurrent_claims(sqlite_settings, budget=5, users=30) == (5, 5, 5)


def test_claim_endpoint(sqlite_settings):
    from tests.live import token

    db = Database(sqlite_settings)
    cid = make_campaign(db, budget=1)
    with client_for(sqlite_settings) as client:
        user = {"Authorization": f"Bearer {token(sqlite_settings, 'user', 'ann')}"}
        got = client.post(f"/v1/campaigns/{cid}/claim", headers=user)
        assert got.status_code == 201 and set(got.json()) >= {"id", "code"}
        assert client.post(f"/v1/campaigns/{cid}/claim", headers=user).status_code == 409
        other = {"Authorization": f"Bearer {token(sqlite_settings, 'user', 'ben')}"}
        assert client.post(f"/v1/campaigns/{cid}/claim", headers=other).status_code == 409  # budget spent
        staff = {"Authorization": f"Bearer {token(sqlite_settings, 'staff', 's', 1)}"}
        assert client.post(f"/v1/campaigns/{cid}/claim", headers=staff).status_code == 403
        assert client.post("/v1/campaigns/0/claim", headers=user).status_code == 422


def test_coupon_and_pickup_codes_cannot_be_confused():
    from lbs_service.o2o.coupons import new_code
    from lbs_service.o2o.orders import _pickup_code

    assert all(new_code().startswith("C") and len(new_code()) == 10 for _ in range(200))
    assert all(_pickup_code().startswith("P") for _ in range(200))
