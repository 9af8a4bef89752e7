"""Audiences from the member event log: tiers, tags and "visited a store of merchant X / category Y in
the last N days" (real visits only); claims respect them; a merchant learns an audience's size only
from k people up, never who they are."""

from datetime import timedelta

from lbs_service.storage.db import Database
from lbs_service.storage.models import MemberEvent
from tests.clock import T0, WIDE
from tests.conftest import client_for
from tests.live import token
from tests.service.test_orders import auth, shop


def _events(settings, user, store, kinds_days):
    with Database(settings).transaction() as session:
        for kind, days in kinds_days:
            session.add(MemberEvent(user_id=user, store_id=store, kind=kind, data={}, at=T0 - timedelta(days=days)))


def test_claims_and_sizes_follow_the_audience(sqlite_settings):
    with client_for(sqlite_settings) as client:
        (a, b, _), _ = shop(sqlite_settings, client)
        merchant = client.get(f"/v1/stores/{a}").json()["properties"]["merchant_id"]
        boss = {"Authorization": f"Bearer {token(sqlite_settings, 'merchant', 'boss', None, merchant)}"}
        created = client.post("/v1/campaigns", headers=boss, json={
            "title": "For recent visitors", "level": "merchant", "merchant_id": merchant, **WIDE,
            "audience": {"visited": {"merchant_id": merchant, "days": 30}}})
        assert created.status_code == 201, created.text
        campaign = created.json()
        assert campaign["audience"] == {"tiers": None, "favourite_categories": None, "home_areas": None,
                                        "visited": {"merchant_id": merchant, "category": None, "days": 30}}
        for n in range(4):
            _events(sqlite_settings, f"fan{n}", b, [("visit", 3 + n)])
        _events(sqlite_settings, "lapsed", a, [("visit", 45)])
        _events(sqlite_settings, "browser", a, [("claim", 2), ("review", 2)])  # not visits
        size = client.get(f"/v1/campaigns/{campaign['id']}/audience", headers=boss).json()
        assert size == {"campaign_id": campaign["id"], "size": None, "k": 5, "capped": False}  # 4 < k
        _events(sqlite_settings, "fan4", a, [("pickup", 1)])
        assert client.get(f"/v1/campaigns/{campaign['id']}/audience", headers=boss).json()["size"] == 5
        rival = {"Authorization": f"Bearer {token(sqlite_settings, 'merchant', 'rival', None, merchant + 1)}"}
        assert client.get(f"/v1/campaigns/{campaign['id']}/audience", headers=rival).status_code == 404
        for user, expected in (("fan0", 201), ("fan4", 201), ("lapsed", 403), ("browser", 403), ("nobody", 403)):
            claimed = client.post(f"/v1/campaigns/{campaign['id']}/claim", headers=auth(sqlite_settings, "user", user))
            assert claimed.status_code == expected, (user, claimed.text)


def test_tier_and_tag_audiences(sqlite_settings):
    with client_for(sqlite_settings) as client:
        (a, b, c), _ = shop(sqlite_settings, client)
        operator = auth(sqlite_settings, "operator", "op")
        gold = client.post("/v1/campaigns", headers=operator, json={
            "title": "Gold", "level": "platform", **WIDE, "audience": {"tiers": ["gold"]}}).json()
        cafe_lovers = client.post("/v1/campaigns", headers=operator, json={
            "title": "Cafe", "level": "platform", **WIDE, "audience": {"favourite_categories": ["cafe"]}}).json()
        _events(sqlite_settings, "regular", a, [("visit", d) for d in range(10)])  # 10 store-days: gold
        _events(sqlite_settings, "newcomer", b, [("visit", 1)])
        store_categories = {s: client.get(f"/v1/stores/{s}").json()["properties"]["category"] for s in (a, b, c)}
        claim = lambda campaign, user: client.post(f"/v1/campaigns/{campaign}/claim",  # noqa: E731
                                                   headers=auth(sqlite_settings, "user", user)).status_code
        assert claim(gold["id"], "regular") == 201 and claim(gold["id"], "newcomer") == 403
        assert claim(cafe_lovers["id"], "regular") == (201 if store_categories[a] == "cafe" else 403)
        assert claim(cafe_lovers["id"], "newcomer") == (201 if store_categories[b] == "cafe" else 403)


def test_bad_audiences_are_refused(sqlite_client, sqlite_settings):
    operator = auth(sqlite_settings, "operator", "op")
    res9 = "8931aa5a5a3ffff"  # an H3 cell, but of resolution 9: home areas are res 7
    for audience in ({}, {"visited": {"days": 30}}, {"visited": {"category": "cafe", "days": 0}},
                     {"home_areas": ["not-a-cell"]}, {"home_areas": [res9]}, {"tiers": []}, {"tiers": ["platinum"]},
                     {"colour": ["red"]}):
        answer = sqlite_client.post("/v1/campaigns", headers=operator, json={
            "title": "x", "level": "platform", **WIDE, "audience": audience})
        assert answer.status_code == 422, audience


def test_merchant_id_belongs_to_merchant_campaigns_only(sqlite_client, sqlite_settings):
    """A store or platform campaign naming a merchant would hand that merchant its funnel and audience."""
    answer = sqlite_client.post("/v1/campaigns", headers=auth(sqlite_settings, "operator", "op"), json={
        "title": "x", "level": "platform", "merchant_id": 1, **WIDE})
    assert answer.status_code == 422


def test_a_worker_counts_a_visit_it_sees_at_once():
    """The proximity engine applies an arrival to the member it holds (MemberFacts.with_visit): a
    "visited a pharmacy in 30 days" audience takes them in before the next load, and a visit on a
    day already counted at that store adds no tier visit."""
    from lbs_service.o2o.audiences import audience_of, facts_from, matches

    facts = facts_from([(7, "cafe", 0x8931aa5a5a3ffff, "visit", 70, T0 - timedelta(days=2))], {"silver": 2})
    pharmacy_fans = audience_of({"visited": {"category": "pharmacy", "days": 30}})
    assert not matches(pharmacy_fans, facts, T0) and facts.tier == "member"
    after = facts.with_visit(9, "pharmacy", 90, T0, {"silver": 2})
    assert matches(pharmacy_fans, after, T0) and after.tier == "silver" and after.merchant_visits[9] == 1
    again = after.with_visit(9, "pharmacy", 90, T0 + timedelta(hours=1), {"silver": 2})
    assert again.visits == 2 and again.merchant_visits[9] == 1
