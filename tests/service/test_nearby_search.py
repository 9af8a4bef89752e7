"""Nearby with `q=`: words found in a store's name, category or address, case and width folded; the
stores that match, nearest first, and numberMatched counting only them."""

import numpy as np
import pytest

from lbs_service.storage.db import Database
from lbs_service.storage.stores import StoreRepository
from lbs_service.text_match import matches, words
from tests.conftest import client_for
from tests.reference import brute_force

NAMES = [("ＳＴＡＲ Coffee 新街口店", "cafe", "中山路 18号"), ("Café Rouge", "cafe", None),
         ("中国移动营业厅", "telecom_hall", "汉中路 1号"), ("CAFÉ DU NORD", "cafe", "1 Nord Street"),
         ("Bill Payment Point", "utility", "Strasse 5"), ("Straße Kiosk", "convenience", "Hauptstraße 2")]


@pytest.fixture
def stores(sqlite_settings):
    rng = np.random.default_rng(4)
    lats, lngs = rng.normal(32.05, 0.01, 300), rng.normal(118.78, 0.01, 300)
    rows = [{"source_id": str(i), "name": NAMES[i % 6][0] + f" {i}", "category": NAMES[i % 6][1],
             "address": NAMES[i % 6][2], "phone": None, "hours": None, "timezone": "Asia/Shanghai",
             "status": "open", "attributes": {}, "lat": float(lats[i]), "lng": float(lngs[i])} for i in range(300)]
    StoreRepository(Database(sqlite_settings)).upsert_many("Search Merchant", rows)
    with client_for(sqlite_settings) as client:
        yield client, rows, lats, lngs


@pytest.mark.parametrize(("q", "kinds"), [
    ("star", {0}), ("ｓｔａｒ", {0}), ("STAR coffee", {0}), ("咖啡", set()), ("新街口", {0}),
    ("café", {1, 3}), ("CAFE", {0, 1, 3}),  # "cafe" is also the category of the Star Coffee stores
    ("中山路", {0}), ("移动", {2}), ("telecom", {2}), ("nord street", {3}), ("strasse", {4, 5}),
    ("straße", {4, 5}), ("payment bill", {4}), ("rouge nord", set()),
])
def test_the_words_find_exactly_the_stores_that_hold_them(stores, q, kinds):
    client, rows, lats, lngs = stores
    ids = np.arange(len(rows))
    expected, _, _ = brute_force(32.05, 118.78, lats, lngs, ids, 1500)
    expected = [i for i in expected.tolist() if i % 6 in kinds]
    body = client.get("/v1/stores/nearby", params={"lat": 32.05, "lng": 118.78, "radius_m": 1500, "limit": 1000,
                                                    "q": q}).json()
    assert [int(f["properties"]["source_id"]) for f in body["features"]] == expected
    assert body["numberMatched"] == len(expected)
    limited = client.get("/v1/stores/nearby", params={"lat": 32.05, "lng": 118.78, "radius_m": 1500, "limit": 3,
                                                       "q": q}).json()
    assert limited["features"] == body["features"][:3] and limited["numberMatched"] == len(expected)


@pytest.mark.parametrize("q", ["", " ", "\u3000", "a" * 201, "x\x00y"])
def test_a_query_with_no_words_or_too_long_is_refused(stores, q):
    client, _, _, _ = stores
    answer = client.get("/v1/stores/nearby", params={"lat": 32.05, "lng": 118.78, "q": q})
    assert answer.status_code == 422 and answer.headers["content-type"] == "application/problem+json"


def test_the_turkish_capital_dotted_i_folds_to_i():
    for q in ("izmir", "IZMIR", "İzmir", "İZMİR"):
        assert matches(words(q), "İZMİR Köfte", "restaurant", None), q


def test_a_word_never_spans_two_fields():
    assert matches(words("kiosk convenience"), "Straße Kiosk", "convenience", None)
    assert not matches(words("kioskconvenience"), "Straße Kiosk", "convenience", None)
    assert not matches(words("kcon"), "Straße Kiosk", "convenience", None)  # "kiosk" + "convenience"
