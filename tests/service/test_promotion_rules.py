"""Each promotion rule with a test that fails without it: consent, quiet hours, caps, arbitration,
budgets, closed stores, region targeting."""

from datetime import UTC, datetime, timedelta

import pytest

from lbs_service.o2o import customers
from lbs_service.o2o.campaigns import current_and_upcoming
from lbs_service.proximity.decisions import Caps, Entered, Suppressed, choose_offer
from lbs_service.records import record_of
from lbs_service.storage.db import Database
from lbs_service.storage.models import Campaign, ConsentRecord, MemberEvent, PromotionSent, Store, UserPreferences
from lbs_service.storage.stores import StoreRepository
from tests.clock import T0, TIERS

NOON_SHANGHAI = T0  # Monday 12:00 in Asia/Shanghai
ALWAYS = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


@pytest.fixture
def db(sqlite_settings):
    database = Database(sqlite_settings)
    rows = [{"source_id": f"R{i}", "name": f"Store {i}", "category": "cafe", "hours": ALWAYS if i != 3 else None,
             "timezone": "Asia/Shanghai", "status": "open", "attributes": {"district": "320106" if i == 4 else "x"},
             "lat": 32.0 + i * 0.001, "lng": 118.0, "address": None, "phone": None} for i in range(5)]
    StoreRepository(database).upsert_many("Rules Merchant", rows)
    with database.transaction() as session:
        session.add(ConsentRecord(user_id="u", purpose="location_marketing", granted=True))
    return database


def stores(db):
    with db.session() as session:
        return {s.source_id: record_of(s) for s in session.query(Store)}


def campaign(db, **fields):
    values = {"title": "Offer", "level": "platform", "starts_at": NOON_SHANGHAI - timedelta(days=1),
              "ends_at": NOON_SHANGHAI + timedelta(days=1), "per_user_limit": 1, "priority": 0, "claimed": 0,
              "created_by": "test", **fields}
    with db.transaction() as session:
        row = Campaign(**values)
        session.add(row)
        session.flush()
        return row.id


def in_district_320106(store):
    """Stands in for the district polygons: store R4 is in district 320106, the others in none."""
    return "320106" if store.source_id == "R4" else None


def decide(db, entered, at=NOON_SHANGHAI, user="u", caps=Caps()):
    """As a worker decides: from the customer and the campaigns it has loaded (here, freshly)."""
    with db.session() as session:
        customer = customers.load(session, user, at, TIERS)
        campaigns = current_and_upcoming(session, at, timedelta(0))
    return choose_offer(customer, entered, at, caps, lambda when: [c for c in campaigns if c.running_at(when)],
                        in_district_320106)


def test_no_consent_no_offer_and_withdrawal_takes_effect_at_once(db):
    s = stores(db)
    campaign(db)
    entered = [Entered(s["R0"], 100.0)]
    assert decide(db, entered, user="stranger")[1] == [(s["R0"].id, Suppressed.NO_CONSENT)]
    assert decide(db, entered)[0] is not None
    with db.transaction() as session:
        session.add(ConsentRecord(user_id="u", purpose="location_marketing", granted=False))
    assert decide(db, entered)[1] == [(s["R0"].id, Suppressed.NO_CONSENT)]


def test_quiet_hours_in_the_users_own_time_zone(db):
    s = stores(db)
    campaign(db)
    with db.transaction() as session:
        session.add(UserPreferences(user_id="u", timezone="Asia/Shanghai", quiet_start="22:00", quiet_end="08:00"))
    entered = [Entered(s["R0"], 100.0)]
    late_evening = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai
    assert decide(db, entered, at=late_evening)[1] == [(s["R0"].id, Suppressed.QUIET_HOURS)]
    assert decide(db, entered)[0] is not None  # noon


def test_daily_caps_per_store_and_per_user(db):
    s = stores(db)
    cid = campaign(db)
    with db.transaction() as session:
        session.add(PromotionSent(user_id="u", store_id=s["R0"].id, campaign_id=cid, local_day="2026-11-23"))
    assert decide(db, [Entered(s["R0"], 50.0)])[1] == [(s["R0"].id, Suppressed.CAP_STORE_DAY)]
    tomorrow = NOON_SHANGHAI + timedelta(hours=20)
    assert decide(db, [Entered(s["R0"], 50.0)], at=tomorrow)[0] is not None
    with db.transaction() as session:
        for name in ("R1", "R2"):
            session.add(PromotionSent(user_id="u", store_id=s[name].id, campaign_id=cid, local_day="2026-11-23"))
    assert decide(db, [Entered(s["R4"], 50.0)])[1] == [(s["R4"].id, Suppressed.CAP_USER_DAY)]
    assert decide(db, [Entered(s["R4"], 50.0)], caps=Caps(per_user_per_day=10))[0] is not None


def test_one_offer_per_fix_nearest_first_ties_by_priority(db):
    s = stores(db)
    low = campaign(db, level="store", store_ids=[s["R0"].id, s["R1"].id], priority=1)
    high = campaign(db, level="store", store_ids=[s["R2"].id], priority=9)
    offer, suppressed = decide(db, [Entered(s["R1"], 300.0), Entered(s["R0"], 120.0), Entered(s["R2"], 400.0)])
    assert offer.store.id == s["R0"].id and offer.campaign.id == low
    assert sorted(suppressed) == sorted([(s["R1"].id, Suppressed.ARBITRATION), (s["R2"].id, Suppressed.ARBITRATION)])
    offer, _ = decide(db, [Entered(s["R1"], 250.0), Entered(s["R2"], 250.0)])
    assert offer.store.id == s["R2"].id and offer.campaign.id == high


def test_spent_budgets_expired_campaigns_and_closed_stores_give_nothing(db):
    s = stores(db)
    campaign(db, level="store", store_ids=[s["R0"].id], budget=10, claimed=10)
    campaign(db, level="store", store_ids=[s["R1"].id], ends_at=NOON_SHANGHAI - timedelta(minutes=1))
    campaign(db, level="store", store_ids=[s["R3"].id])
    _, suppressed = decide(db, [Entered(s["R0"], 10.0), Entered(s["R1"], 20.0), Entered(s["R3"], 30.0)])
    assert dict(suppressed) == {s["R0"].id: Suppressed.BUDGET_SPENT, s["R1"].id: Suppressed.NO_CAMPAIGN,
                                s["R3"].id: Suppressed.STORE_CLOSED}


def test_levels_target_their_own_stores(db):
    s = stores(db)
    region = campaign(db, level="region", district="320106")
    offer, suppressed = decide(db, [Entered(s["R4"], 10.0), Entered(s["R0"], 5.0)])
    assert offer.store.id == s["R4"].id and offer.campaign.id == region
    assert suppressed == [(s["R0"].id, Suppressed.NO_CAMPAIGN)]
    merchant = campaign(db, level="merchant", merchant_id=s["R0"].merchant_id, priority=5)
    assert decide(db, [Entered(s["R0"], 5.0)])[0].campaign.id == merchant


def test_no_offer_for_a_campaign_whose_coupon_the_user_holds(db):
    from lbs_service.o2o.coupons import claim

    s = stores(db)
    running = {"starts_at": NOON_SHANGHAI - timedelta(days=1), "ends_at": NOON_SHANGHAI + timedelta(days=2)}
    held = campaign(db, level="store", store_ids=[s["R0"].id], priority=9, **running)
    other = campaign(db, level="store", store_ids=[s["R0"].id], priority=1)
    claim(db, held, "u", NOON_SHANGHAI, TIERS)
    offer, _ = decide(db, [Entered(s["R0"], 10.0)])
    assert offer.campaign.id == other  # the better campaign is skipped: its coupon is already in hand
    claim_other = campaign(db, level="store", store_ids=[s["R1"].id], **running)
    claim(db, claim_other, "u", NOON_SHANGHAI, TIERS)
    assert decide(db, [Entered(s["R1"], 10.0)])[1] == [(s["R1"].id, Suppressed.COUPON_HELD)]


def test_an_audience_campaign_reaches_only_its_audience(db):
    """A campaign for people who visited a pharmacy of another merchant in the last 30 days: pushed to
    a member with such a visit 10 days ago, not to one whose visit was 40 days ago."""
    s = stores(db)
    StoreRepository(db).upsert_many("Pharma", [{
        "source_id": "P1", "name": "Pharmacy", "category": "pharmacy", "hours": ALWAYS, "timezone": "Asia/Shanghai",
        "status": "open", "attributes": {}, "lat": 32.1, "lng": 118.1, "address": None, "phone": None}])
    with db.transaction() as session:
        pharmacy = session.query(Store).filter_by(source_id="P1").one()
        session.add(ConsentRecord(user_id="lapsed", purpose="location_marketing", granted=True))
        session.add(MemberEvent(user_id="u", store_id=pharmacy.id, kind="visit", data={},
                                at=NOON_SHANGHAI - timedelta(days=10)))
        session.add(MemberEvent(user_id="lapsed", store_id=pharmacy.id, kind="visit", data={},
                                at=NOON_SHANGHAI - timedelta(days=40)))
    campaign(db, title="For pharmacy visitors",
             audience={"visited": {"category": "pharmacy", "days": 30}})
    offer, _ = decide(db, [Entered(s["R0"], 50.0)])
    assert offer is not None and offer.campaign.title == "For pharmacy visitors"
    assert decide(db, [Entered(s["R0"], 50.0)], user="lapsed") == (None, [(s["R0"].id, Suppressed.AUDIENCE)])
