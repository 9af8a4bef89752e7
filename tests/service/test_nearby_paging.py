"""Paging nearby: the `next` link continues the list in (distance, id) order, so following it from any
page size lists every matching store within the radius once, in the order of one big page."""

import base64

import numpy as np
import pytest

from lbs_service.storage.db import Database
from lbs_service.storage.stores import StoreRepository
from tests.conftest import client_for

PAST_THE_LANE = {"Origin": "http://127.0.0.1"}


@pytest.fixture
def stores(sqlite_settings):
    rng = np.random.default_rng(8)
    lats, lngs = rng.normal(32.05, 0.01, 400), rng.normal(118.78, 0.01, 400)
    lats[:30], lngs[:30] = 32.0512345, 118.7812345  # thirty stores at one spot: equal distances, ordered by id
    rows = [{"source_id": str(i), "name": f"Shop {i}", "category": ("cafe", "telecom_hall")[i % 2],
             "address": None, "phone": None, "hours": {"mon": [["00:00", "24:00"]]} if i % 3 else None,
             "timezone": "Asia/Shanghai", "status": "open", "attributes": {}, "lat": float(lats[i]),
             "lng": float(lngs[i])} for i in range(400)]
    StoreRepository(Database(sqlite_settings)).upsert_many("Paging Merchant", rows)
    with client_for(sqlite_settings) as client:
        yield client


def follow(client, params, headers=None):
    pages, body = [], client.get("/v1/stores/nearby", params=params, headers=headers or {}).json()
    pages.append(body)
    while body.get("links"):
        (link,) = body["links"]
        assert link["rel"] == "next" and link["type"] == "application/geo+json"
        body = client.get(link["href"], headers=headers or {}).json()
        pages.append(body)
    return pages


@pytest.mark.parametrize("extra", [{}, {"category": "cafe"}, {"q": "shop 1"}, {"crs": "gcj02"},
                                   {"open_now": "true", "limit": "1"}])
@pytest.mark.parametrize("headers", [{}, PAST_THE_LANE])
def test_following_next_lists_every_store_once_in_order(stores, extra, headers):
    base = {"lat": "32.0512345", "lng": "118.7812345", "radius_m": "1500", **extra}
    whole = stores.get("/v1/stores/nearby", params={**base, "limit": "1000"}, headers=headers).json()
    assert "links" not in whole  # everything fits: no next page
    for size in ("7", "30", extra.get("limit", "29")):
        pages = follow(stores, {**base, "limit": size}, headers)
        listed = [f for page in pages for f in page["features"]]
        assert listed == whole["features"]  # no duplicate, no gap, the same order, the same bytes per store
        assert all(page["numberMatched"] == whole["numberMatched"] for page in pages)
        assert all(page["numberReturned"] == len(page["features"]) for page in pages)
        assert all(len(page["features"]) == int(size) for page in pages[:-1])


def test_the_last_page_has_no_link_and_an_exact_fit_needs_no_extra_page(stores):
    whole = stores.get("/v1/stores/nearby", params={"lat": 32.05, "lng": 118.78, "radius_m": 800,
                                                    "limit": 1000}).json()
    matched = whole["numberMatched"]
    assert matched > 2
    exact = stores.get("/v1/stores/nearby", params={"lat": 32.05, "lng": 118.78, "radius_m": 800,
                                                    "limit": matched}).json()
    assert "links" not in exact and exact["features"] == whole["features"]


@pytest.mark.parametrize("cursor", ["x", "!!!", base64.urlsafe_b64encode(b"nan:3").decode(),
                                    base64.urlsafe_b64encode(b"-1.0:3").decode(),
                                    base64.urlsafe_b64encode(b"12.5:-4").decode(),
                                    base64.urlsafe_b64encode(b"12.5").decode(), "a" * 101])
def test_a_cursor_this_service_did_not_write_is_refused(stores, cursor):
    for headers in ({}, PAST_THE_LANE):
        answer = stores.get("/v1/stores/nearby", params={"lat": 32.05, "lng": 118.78, "cursor": cursor},
                            headers=headers)
        assert answer.status_code == 422 and answer.headers["content-type"] == "application/problem+json"


def test_equal_reported_distances_go_by_id_even_when_the_angles_differ(sqlite_settings):
    """Two stores 529.999999998337 m away by the reported metres, one bit apart in angle, inserted in
    the order that puts the nearer angle on the larger id (found by an attack on the cursor)."""
    farther_angle, nearer_angle = (32.04650495583799, 118.78382357327828), (32.04789088099818, 118.77495707144396)
    beyond = (32.0550, 118.78)
    rows = [{"source_id": name, "name": name, "category": "cafe", "address": None, "phone": None, "hours": None,
             "timezone": "Asia/Shanghai", "status": "open", "attributes": {}, "lat": p[0], "lng": p[1]}
            for name, p in (("B", farther_angle), ("A", nearer_angle), ("C", beyond))]
    StoreRepository(Database(sqlite_settings)).upsert_many("Ties", rows)
    with client_for(sqlite_settings) as client:
        for headers in ({}, PAST_THE_LANE):
            base = {"lat": "32.05", "lng": "118.78", "radius_m": "600"}
            whole = client.get("/v1/stores/nearby", params={**base, "limit": "10"}, headers=headers).json()
            first, second = whole["features"][:2]
            assert first["properties"]["distance_m"] == second["properties"]["distance_m"]
            assert int(first["id"]) < int(second["id"])  # equal distances: by id
            for size in ("1", "2"):
                listed = [f["id"] for page in follow(client, {**base, "limit": size}, headers)
                          for f in page["features"]]
                assert listed == [f["id"] for f in whole["features"]]


def test_cursors_are_read_strictly(stores):
    written = base64.urlsafe_b64encode(b"12.5:3").decode().rstrip("=")
    for cursor in (written + "!!!", written + "====", " " + written,
                   base64.urlsafe_b64encode(b" 1_0.5 : 1_0 ").decode().rstrip("=")):
        answer = stores.get("/v1/stores/nearby", params={"lat": 32.05, "lng": 118.78, "cursor": cursor})
        assert answer.status_code == 422, cursor
    assert stores.get("/v1/stores/nearby", params={"lat": 32.05, "lng": 118.78, "cursor": written}).status_code == 200
