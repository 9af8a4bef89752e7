"""The nearby fast lane answers exactly as the route does, and hands on everything it does not take.

The route is reached past the lane by a request the lane leaves to the framework (an Origin header:
CORS is the framework's), so the two paths are compared on the same server, byte for byte.
"""

import logging
import random
from datetime import timedelta

import orjson
import pytest
from starlette.datastructures import QueryParams

from geo_index import Datum
from lbs_service.auth import Principal, mint_token
from lbs_service.geojson import FeatureWriter, store_feature
from lbs_service.hours import parse_hours, parse_timezone
from lbs_service.records import StoreRecord
from lbs_service.routers import stores as stores_router
from lbs_service.routers.nearby_lane import _query
from lbs_service.statuses import StoreStatus
from tests.clock import T0
from tests.conftest import client_for
from tests.service.test_nearby_api import BAD_QUERIES, seed

PAST_THE_LANE = {"Origin": "http://127.0.0.1"}


def _record(n: int, rng: random.Random) -> StoreRecord:
    hours = rng.choice([None, {"mon": [["08:00", "20:00"]], "fri": [["18:00", "02:00"]]},
                        {"sun": [["00:00", "24:00"]]}])
    zone = rng.choice(["Asia/Shanghai", "Europe/Berlin", "America/New_York"])
    count = rng.choice([0, 0, 3])
    return StoreRecord(n, rng.randint(1, 9), f"S-{n}", rng.choice(["Café \"Ü\" 咖啡", "Store\n7", "店"]),
                       rng.choice(["cafe", "telecom_hall"]), rng.choice([None, "1 Road 路"]), rng.choice([None, "+86"]),
                       hours, zone, rng.uniform(-60, 60), rng.uniform(-179, 179), parse_hours(hours),
                       parse_timezone(zone), rng.choice([StoreStatus.OPEN, StoreStatus.CLOSED]), count, count * 4)


@pytest.mark.parametrize("datum", list(Datum))
def test_written_features_are_the_bytes_of_the_dict_features(datum):
    rng = random.Random(int(datum.value.encode().hex(), 16) % 1000)
    writer = FeatureWriter(capacity=7)  # small: entries are evicted and rebuilt along the way
    for round_ in range(40):
        now = T0 + timedelta(hours=rng.randint(0, 200))
        found = [(_record(rng.randint(1, 30), rng), rng.choice([0.0, 1e-7, rng.uniform(0, 50_000)]))
                 for _ in range(rng.randint(0, 12))]
        quantities = {record.id: rng.randint(0, 99) for record, _ in found} if round_ % 2 else None
        expected = []
        for record, distance in found:
            feature = store_feature(record, datum, now, distance)
            if quantities is not None:
                feature["properties"]["quantity"] = quantities[record.id]
            expected.append(feature)
        body = {"type": "FeatureCollection", "features": expected, "numberMatched": len(found) + round_,
                "numberReturned": len(found)}
        written = writer.collection(found, len(found) + round_, datum, now, quantities)
        assert written == orjson.dumps(body)


def test_a_replaced_record_is_written_anew():
    rng = random.Random(3)
    writer, record = FeatureWriter(), _record(1, rng)
    first = writer.collection([(record, 5.0)], 1, Datum.WGS84, T0)
    renamed = StoreRecord(*[getattr(record, f) if f != "name" else "Renamed" for f in record.__slots__])
    assert b"Renamed" in writer.collection([(renamed, 5.0)], 1, Datum.WGS84, T0) != first


@pytest.fixture
def seeded(sqlite_settings):
    rows = seed(sqlite_settings)
    with client_for(sqlite_settings) as client:
        yield client, rows, sqlite_settings


def test_the_lane_and_the_route_give_the_same_bytes(seeded, monkeypatch):
    client, _, settings = seeded
    routed_searches = []
    search = stores_router.search_memory
    monkeypatch.setattr(stores_router, "search_memory", lambda *a, **k: routed_searches.append(1) or search(*a, **k))
    rng = random.Random(11)
    pages = 0
    user = {"Authorization": f"Bearer {mint_token(settings, Principal('user', 'walker', None))}"}
    for n in range(150):
        params = {"lat": f"{32.05 + rng.gauss(0, 0.02):.6f}", "lng": f"{118.78 + rng.gauss(0, 0.02):.6f}",
                  "radius_m": rng.choice(["300", "1000", "2500.5"]), "limit": str(rng.choice([1, 20, 1000]))}
        if n % 3 == 0:
            params["category"] = rng.choice(["cafe", "telecom_hall", "cafe,telecom_hall"])
        if n % 4 == 0:
            params["open_now"] = rng.choice(["true", "false", "1", "0"])
        if n % 5 == 0:
            params["crs"] = rng.choice(["gcj02", "bd09", "wgs84"])
        headers = user if n % 2 else {}
        fast = client.get("/v1/stores/nearby", params=params, headers=headers)
        routed = client.get("/v1/stores/nearby", params=params, headers={**headers, **PAST_THE_LANE})
        assert fast.status_code == routed.status_code == 200, (fast.text, routed.text)
        assert fast.content == routed.content
        assert fast.headers["content-type"] == routed.headers["content-type"] == "application/geo+json"
        assert fast.headers["x-request-id"] != routed.headers["x-request-id"]
        if "links" in fast.json():  # the next page too, through the lane and past it
            href = fast.json()["links"][0]["href"]
            pages += 1
            assert client.get(href, headers=headers).content == client.get(href, headers={
                **headers, **PAST_THE_LANE}).content
    assert pages > 30 and len(routed_searches) == 150 + pages  # the route ran only past the lane


@pytest.mark.parametrize("bad", [*BAD_QUERIES, {"category": "bakery"}, {"unknown": "1"}])
def test_what_the_lane_refuses_the_route_answers_as_documented(seeded, bad):
    client, _, _ = seeded
    params = {"lat": "32.05", "lng": "118.78", **bad}
    fast, routed = (client.get("/v1/stores/nearby", params=params, headers=h) for h in ({}, PAST_THE_LANE))
    if "unknown" in bad:  # an unknown parameter is ignored by the route: the same answer, from it
        assert fast.status_code == routed.status_code == 200 and fast.content == routed.content
        return
    assert fast.status_code == routed.status_code == 422
    assert fast.headers["content-type"] == "application/problem+json"
    assert fast.json() == routed.json()


def test_repeated_parameters_and_other_schemes_go_to_the_route(seeded):
    client, _, _ = seeded
    twice = client.get("/v1/stores/nearby?lat=32.05&lat=32.06&lng=118.78")
    assert twice.status_code == 200  # the route's rule (the last one counts), not the lane's guess
    assert twice.content == client.get("/v1/stores/nearby?lat=32.06&lng=118.78", headers=PAST_THE_LANE).content
    basic = client.get("/v1/stores/nearby", params={"lat": 32.05, "lng": 118.78},
                       headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert basic.status_code == 200  # not a bearer token: anonymous, as the route's security scheme says


def test_bad_and_revoked_tokens_are_refused_through_the_lane(seeded):
    client, _, settings = seeded
    refused = client.get("/v1/stores/nearby", params={"lat": 32.05, "lng": 118.78},
                         headers={"Authorization": "Bearer not-a-token"})
    assert refused.status_code == 401 and refused.headers["content-type"] == "application/problem+json"
    leaked = {"Authorization": f"Bearer {mint_token(settings, Principal('user', 'leaked', None))}"}
    assert client.get("/v1/stores/nearby", params={"lat": 32.05, "lng": 118.78}, headers=leaked).status_code == 200
    revocations = client.app.state.services.revocations
    revocations.revoke("leaked", "test", "operator")
    revocations.refresh()
    revoked = client.get("/v1/stores/nearby", params={"lat": 32.05, "lng": 118.78}, headers=leaked)
    assert revoked.status_code == 401 and "revoked" in revoked.json()["detail"]


def test_a_tokens_rate_is_counted_once_per_request(sqlite_settings):
    seed(sqlite_settings, count=50)
    limited = sqlite_settings.model_copy(update={"rate_limit_rules": {"token": (5, 3600)}})
    with client_for(limited) as client:
        user = {"Authorization": f"Bearer {mint_token(limited, Principal('user', 'counted', None))}"}
        answers = [client.get("/v1/stores/nearby", params={"lat": 32.05, "lng": 118.78}, headers=user).status_code
                   for _ in range(7)]
    assert answers == [200] * 5 + [429] * 2


def test_what_the_search_refuses_goes_to_the_route_before_the_token_is_counted(sqlite_settings, caplog):
    """bd09 at the corner of the map converts to a point off it: the route's 422, counted once."""
    seed(sqlite_settings, count=50)
    limited = sqlite_settings.model_copy(update={"rate_limit_rules": {"token": (5, 3600)}})
    with client_for(limited) as client, caplog.at_level(logging.ERROR):
        user = {"Authorization": f"Bearer {mint_token(limited, Principal('user', 'edge', None))}"}
        corner = {"lat": "-90", "lng": "-180", "crs": "bd09"}
        answers = [client.get("/v1/stores/nearby", params=corner, headers=user).status_code for _ in range(3)]
        answers.append(client.get("/v1/stores/nearby", params={"lat": 32.05, "lng": 118.78}, headers=user).status_code)
    assert answers == [422, 422, 422, 200]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_with_cors_the_lanes_answer_varies_on_origin_as_the_frameworks_does(sqlite_settings):
    seed(sqlite_settings, count=50)
    portal = sqlite_settings.model_copy(update={"cors_origins": ["http://portal.example"]})
    with client_for(portal) as client:
        params = {"lat": 32.05, "lng": 118.78}
        fast = client.get("/v1/stores/nearby", params=params)
        framework = client.get("/v1/stores/nearby", params=params, headers={"Content-Length": "0"})
        cross = client.get("/v1/stores/nearby", params=params, headers={"Origin": "http://portal.example"})
    assert fast.headers["vary"] == framework.headers["vary"] == "Origin"
    assert fast.content == framework.content == cross.content
    assert cross.headers["access-control-allow-origin"] == "http://portal.example"


def test_the_lane_logs_the_route_and_never_the_position(seeded, caplog):
    client, _, _ = seeded
    with caplog.at_level(logging.INFO, logger="lbs.access"):
        answer = client.get("/v1/stores/nearby", params={"lat": "32.054321", "lng": "118.787654"})
    lines = [r.getMessage() for r in caplog.records if r.name == "lbs.access"]
    assert answer.status_code == 200 and len(lines) == 1
    assert lines[0].startswith("GET /v1/stores/nearby 200 ") and answer.headers["x-request-id"] in lines[0]
    assert "32.05" not in lines[0] and "118.78" not in lines[0]


def test_the_lanes_query_parser_reads_what_the_framework_reads():
    rng = random.Random(5)
    alphabet = ["a", "lat", "=", "&", "%", "%2", "%3D", "%26", "+", " ", "é", "%C3%A9", "%FF", "1.5", "", "&&"]
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        raw = text.encode("utf-8")  # as it arrives: the framework reads scope["query_string"] as we do
        pairs = QueryParams(raw).multi_items()
        parsed = _query(raw.decode("latin-1"))  # as the lane reads it
        if len({name for name, _ in pairs}) < len(pairs):
            assert parsed is None, text  # repeated: left to the route
        else:
            assert parsed == dict(pairs), text
