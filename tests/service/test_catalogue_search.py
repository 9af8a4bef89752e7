"""A catalogue people can browse: `GET /v1/skus?q=` finds products by words in their code or name,
folded as nearby's `q=` (case, full width), on SQLite and PostGIS alike; a query that only looks like
SQL is text; the answer is bounded."""

import pytest
from sqlalchemy import select

from lbs_service.storage.db import Database
from lbs_service.storage.models import Merchant
from tests.conftest import client_for, operator_headers
from tests.service.test_nearby_api import seed

PRODUCTS = [("CABLE-C", "USB-C cable 1 m"), ("CABLE-L", "Lightning cable"), ("SIM-5G", "5G SIM card"),
            ("TOPUP-50", "Phone top-up 50 yuan"), ("CAFE-L", "Café latte"), ("PCT", "100% cotton bag"),
            ("UNDER", "snake_case mug")]


def _catalogue(settings, client):
    seed(settings, count=1)
    with Database(settings).session() as session:
        merchant = session.scalar(select(Merchant.id))
    ids = {}
    for code, name in PRODUCTS:
        made = client.post("/v1/skus", headers=operator_headers(settings), json={
            "merchant_id": merchant, "code": code, "name": name, "price_cents": 100})
        assert made.status_code == 201, made.text
        ids[code] = made.json()["id"]
    return merchant, ids


@pytest.mark.parametrize("backend", ["sqlite", "postgis"])
def test_products_are_found_by_the_words_people_type(backend, request):
    settings = request.getfixturevalue("sqlite_settings" if backend == "sqlite" else "pg_settings")
    with client_for(settings) as client:
        merchant, ids = _catalogue(settings, client)

        def found(**params):
            answer = client.get("/v1/skus", params=params)
            assert answer.status_code == 200, answer.text
            return [p["code"] for p in answer.json()]

        assert found(q="cable") == ["CABLE-L", "CABLE-C"]  # by name
        assert found(q="ＵＳＢ ｃａｂｌｅ") == ["CABLE-C"]  # full width and case folded; every word
        assert found(q="CAFÉ") == found(q="café") == ["CAFE-L"]
        assert found(q="sim-5g") == ["SIM-5G"]  # by code
        assert found(q="100%") == ["PCT"] and found(q="%") == ["PCT"]  # LIKE's wildcards are text here
        assert found(q="_") == found(q="snake_case") == ["UNDER"]
        assert found(q="' OR 1=1 --") == []
        assert found(q="cable", limit=1) == ["CABLE-L"]
        assert found(q="cable", merchant_id=merchant + 1) == []
        first = client.get("/v1/skus", params={"q": "latte"}).json()[0]
        assert first == {"id": ids["CAFE-L"], "merchant_id": merchant, "code": "CAFE-L", "name": "Café latte",
                         "price_cents": 100}
        assert found(q=" ".join(["cable"] * 30)) == found(q="cable")  # a word asked again costs nothing more
        assert found(q="ß" * 150) == []  # folding lengthens it ("ss" each): still just text
        for bad in ({"q": ""}, {"q": "   "}, {"q": "x" * 201}, {"q": "a\x00"}, {"q": "cable", "limit": 51},
                    {"q": "cable", "limit": 0}, {}, {"q": "a b c d e f g h i"}):
            refused = client.get("/v1/skus", params=bad)
            assert refused.status_code == 422 and refused.headers["content-type"].startswith(
                "application/problem+json"), bad


def test_a_product_whose_folded_text_is_longer_than_it_was_is_stored_and_found(request):
    settings = request.getfixturevalue("pg_settings")
    with client_for(settings) as client:
        merchant, _ = _catalogue(settings, client)
        name = "Stra\u00dfe " + "\u00df" * 190  # 191 characters, folded to 381
        made = client.post("/v1/skus", headers=operator_headers(settings), json={
            "merchant_id": merchant, "code": "LONG", "name": name, "price_cents": 1})
        assert made.status_code == 201, made.text
        assert [p["code"] for p in client.get("/v1/skus", params={"q": "strasse"}).json()] == ["LONG"]


def test_the_catalogue_search_has_a_rate(sqlite_settings):
    settings = sqlite_settings.model_copy(update={"rate_limit_rules": {"catalogue": (3, 60)}})
    with client_for(settings) as client:
        answers = [client.get("/v1/skus", params={"q": "cable"}).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
