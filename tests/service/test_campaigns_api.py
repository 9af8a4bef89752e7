"""Who may create which campaign, and bad campaign bodies."""

from datetime import timedelta

import pytest

from lbs_service.auth import Principal, mint_token
from tests.clock import T0
from tests.conftest import client_for
from tests.service.test_nearby_api import seed

NOW = T0
WINDOW = {"starts_at": (NOW - timedelta(hours=1)).isoformat(), "ends_at": (NOW + timedelta(days=7)).isoformat()}


def bearer(settings, role, subject, store_id=None, merchant_id=None):
    return {"Authorization": f"Bearer {mint_token(settings, Principal(role, subject, store_id, merchant_id))}"}


@pytest.fixture
def setup(sqlite_settings):
    seed(sqlite_settings, count=4)
    with client_for(sqlite_settings) as client:
        ids = [int(f["id"]) for f in client.get("/v1/stores/nearby", params={
            "lat": 32.05, "lng": 118.78, "radius_m": 50000, "limit": 10}).json()["features"]]
        merchant = client.get(f"/v1/stores/{ids[0]}").json()["properties"]["merchant_id"]
        yield client, sqlite_settings, ids, merchant


def test_scopes_follow_the_level(setup):
    client, settings, ids, merchant = setup
    staff = bearer(settings, "staff", "s", store_id=ids[0])
    own = client.post("/v1/campaigns", headers=staff, json={"title": "Ours", "level": "store", "store_ids": [ids[0]],
                                                             **WINDOW})
    assert own.status_code == 201 and own.json()["store_ids"] == [ids[0]]
    other = client.post("/v1/campaigns", headers=staff, json={"title": "Theirs", "level": "store",
                                                               "store_ids": [ids[1]], **WINDOW})
    assert other.status_code == 403
    assert client.post("/v1/campaigns", headers=staff, json={"title": "All", "level": "platform",
                                                              **WINDOW}).status_code == 403
    boss = bearer(settings, "merchant", "m", merchant_id=merchant)
    assert client.post("/v1/campaigns", headers=boss, json={"title": "Chain", "level": "merchant",
                                                             "merchant_id": merchant, **WINDOW}).status_code == 201
    assert client.post("/v1/campaigns", headers=boss, json={"title": "Rival", "level": "merchant",
                                                             "merchant_id": merchant + 1, **WINDOW}).status_code == 403
    operator = bearer(settings, "operator", "op")
    assert client.post("/v1/campaigns", headers=operator, json={"title": "City", "level": "region",
                                                                 "district": "320106", **WINDOW}).status_code == 201
    assert client.post("/v1/campaigns", json={"title": "x", "level": "platform", **WINDOW}).status_code == 401
    listed = client.get("/v1/campaigns", params={"store_id": ids[0]}).json()
    assert {c["title"] for c in listed} == {"Ours", "Chain"}


@pytest.mark.parametrize("change", [
    {"level": "store"}, {"level": "region"}, {"level": "merchant"}, {"level": "galaxy"},
    {"ends_at": (NOW - timedelta(days=1)).isoformat()}, {"starts_at": "2026-01-01T00:00:00"}, {"budget": 0},
    {"priority": "high"}, {"surprise": True}, {"title": ""},
], ids=str)
def test_bad_campaigns_are_refused(setup, change):
    client, settings, _, _ = setup
    body = {"title": "x", "level": "platform", **WINDOW, **change}
    response = client.post("/v1/campaigns", headers=bearer(settings, "operator", "op"), json=body)
    assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"


def test_unknown_stores_in_a_campaign_are_refused(setup):
    client, settings, _, _ = setup
    response = client.post("/v1/campaigns", headers=bearer(settings, "operator", "op"),
                           json={"title": "x", "level": "store", "store_ids": [999999], **WINDOW})
    assert response.status_code == 422 and "999999" in response.json()["detail"]
