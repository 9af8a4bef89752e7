"""Bad input is refused at the edge, once, by shared types (lbs_service/fields.py) - never a 500.

The guard: every parameter and body field the OpenAPI document publishes is bounded - strings have a
length limit and refuse NUL (or are an enumeration), integers have a minimum and a maximum, arrays a
maximum length, instants the service's calendar bounds. A new field written as a bare `str` or `int`
fails here. Then the attacks that once gave 500s, one by one.
"""

import pytest

from tests.clock import WIDE
from tests.conftest import client_for, operator_headers
from tests.live import token


def _schemas(spec: dict):
    """(where, schema) for every parameter and every request body property, recursively."""
    components = spec.get("components", {}).get("schemas", {})

    def resolve(schema: dict) -> dict:
        while "$ref" in schema:
            schema = components[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def walk(where: str, schema: dict):
        schema = resolve(schema)
        for option in schema.get("anyOf", []) + schema.get("allOf", []) + schema.get("oneOf", []):
            yield from walk(where, option)
        yield where, schema
        for name, child in schema.get("properties", {}).items():
            yield from walk(f"{where}.{name}", child)
        if "items" in schema:
            yield from walk(f"{where}[]", schema["items"])
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            yield from walk(f"{where}{{}}", extra)

    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                yield from walk(f"{method.upper()} {path} {parameter['in']}:{parameter['name']}",
                                parameter["schema"])
            for content in operation.get("requestBody", {}).get("content", {}).values():
                yield from walk(f"{method.upper()} {path} body", content["schema"])


def unbounded(spec: dict) -> list[str]:
    found = []
    for where, schema in _schemas(spec):
        kind = schema.get("type")
        if kind == "string" and "enum" not in schema and "const" not in schema:
            if schema.get("format") == "date-time":
                if "x-latest" not in schema:
                    found.append(f"{where}: an instant without the service's bounds")
            elif "maxLength" not in schema or "pattern" not in schema:
                found.append(f"{where}: a string without a length limit and a pattern")
        elif kind == "integer" and ("minimum" not in schema or "maximum" not in schema):
            found.append(f"{where}: an integer without both bounds")
        elif kind == "array" and "maxItems" not in schema:
            found.append(f"{where}: an array without maxItems")
        elif kind == "object" and "properties" not in schema and schema.get("additionalProperties") is not False and (
                "maxProperties" not in schema):
            found.append(f"{where}: an open object without maxProperties")
    return found


def test_the_guard_catches_an_unbounded_field():
    spec = {"paths": {"/x": {"post": {"parameters": [{"in": "query", "name": "q", "schema": {"type": "string"}}],
                                      "requestBody": {"content": {"application/json": {"schema": {
                                          "type": "object", "properties": {"n": {"type": "integer"}}}}}}}}}}
    assert len(unbounded(spec)) == 2


def test_every_published_field_is_bounded(sqlite_client):
    assert unbounded(sqlite_client.app.openapi()) == []


@pytest.fixture
def world(sqlite_settings):
    with client_for(sqlite_settings) as client:
        op = operator_headers(sqlite_settings)
        store = client.post("/v1/stores", headers=op, json={"source_id": "B1", "name": "Bounds", "lat": 32.0,
                                                            "lng": 118.0}).json()
        yield client, sqlite_settings, int(store["id"]), op


NUL = "a\x00b"


def test_nul_bytes_are_refused_everywhere_they_were_stored(world):
    client, settings, store_id, op = world
    staff = {"Authorization": f"Bearer {token(settings, 'staff', 's', store_id)}"}
    user = {"Authorization": f"Bearer {token(settings, 'user', 'u')}"}
    attempts = [
        client.get("/v1/stores/nearby", params={"lat": 32, "lng": 118, "category": NUL, "engine": "postgis"},
                   headers=op),
        client.post("/v1/payments/simulated/" + "ref%00x/pay", headers=user),
        client.post("/v1/campaigns", headers=op, json={"title": NUL, "level": "platform", **WIDE}),
        client.post("/v1/campaigns", headers=op, json={"title": "t", "level": "region", "district": NUL, **WIDE}),
        client.post("/v1/stores", headers=op, json={"source_id": "N", "name": NUL, "lat": 1.0, "lng": 1.0}),
        client.post("/v1/stores", headers=op, json={"source_id": NUL, "name": "n", "lat": 1.0, "lng": 1.0}),
        client.post("/v1/stores", headers=op, json={"source_id": "N", "name": "n", "merchant": NUL, "lat": 1.0,
                                                    "lng": 1.0}),
        client.post(f"/v1/stores/{store_id}/redemptions", headers=staff, json={"code": "C" + NUL + "XXXX"}),
        client.post(f"/v1/stores/{store_id}/pickups", headers=staff, json={"code": "P" + NUL + "XXXX"}),
        client.post("/v1/tokens/revocations", headers=op, json={"subject": NUL}),
        client.get("/v1/coverage", headers=op, params={"district": NUL}),
        client.post("/v1/payments/callback", json={"ref": NUL, "status": "paid"}, headers={"X-Signature": "x"}),
    ]
    statuses = [r.status_code for r in attempts]
    assert all(400 <= s < 500 for s in statuses), statuses
    assert all(r.headers["content-type"] == "application/problem+json" for r in attempts)


def test_integers_past_their_columns_and_money_past_32_bits(world):
    client, settings, store_id, op = world
    assert client.post("/v1/campaigns", headers=op, json={"title": "t", "level": "platform", "budget": 2**31,
                                                          **WIDE}).status_code == 422
    assert client.get(f"/v1/stores/{2**63}").status_code == 422
    assert client.get("/v1/orders/99999999999999999999", headers=op).status_code == 422
    merchant = client.get(f"/v1/stores/{store_id}").json()["properties"]["merchant_id"]
    sku = client.post("/v1/skus", headers=op, json={"merchant_id": merchant, "code": "GOLD", "name": "Gold bar",
                                                    "price_cents": 3_000_000}).json()  # 30,000 yuan
    client.put(f"/v1/stores/{store_id}/stock/{sku['id']}", headers=op, json={"quantity": 1000})
    user = {"Authorization": f"Bearer {token(settings, 'user', 'rich')}"}
    placed = client.post("/v1/orders", headers=user, json={"store_id": str(store_id),  # the id nearby hands out
                                                           "lines": [{"sku_id": sku["id"], "quantity": 1000}]})
    assert placed.status_code == 201 and placed.json()["total_cents"] == 3_000_000_000  # past 2**31, kept whole


@pytest.mark.parametrize("instant", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
                                     "1969-12-31T23:59:59Z", "2200-01-01T00:00:00Z"])
def test_instants_at_the_edges_of_the_calendar(world, instant):
    client, settings, _, op = world
    campaign = client.post("/v1/campaigns", headers=op, json={"title": "t", "level": "platform",
                                                              "starts_at": instant, "ends_at": instant})
    assert campaign.status_code == 422
    user = {"Authorization": f"Bearer {token(settings, 'user', 'edge')}"}
    fixes = client.post("/v1/users/me/locations", headers=user, json={"fixes": [
        {"lat": 1.0, "lng": 1.0, "accuracy_m": 5, "ts": instant}]})
    assert fixes.status_code == 422


@pytest.mark.parametrize("month", ["0000-01", "9999-12", "1969-12", "2026-13"])
def test_report_months_outside_the_calendar(world, month):
    client, _, _, op = world
    assert client.get("/v1/reports/rebates", params={"month": month}, headers=op).status_code == 422


def test_user_ids_past_200_characters_are_refused(world, sqlite_settings):
    import jwt

    from lbs_service.auth import Principal, mint_token

    client, settings, _, _ = world
    genuine = jwt.decode(mint_token(settings, Principal("user", "x")), options={"verify_signature": False})
    forged = jwt.encode({**genuine, "sub": "u" * 201}, settings.secret_key, algorithm="HS256")
    answer = client.get("/v1/users/me/consent", headers={"Authorization": f"Bearer {forged}"})
    assert answer.status_code == 401
    with pytest.raises(ValueError):
        mint_token(settings, Principal("user", "u" * 201))


def test_store_ids_as_nearby_returns_them_are_accepted_wherever_a_store_is_named(world):
    client, _settings, store_id, op = world
    found = client.get("/v1/stores/nearby", params={"lat": 32.0, "lng": 118.0}).json()["features"][0]["id"]
    assert found == str(store_id)
    created = client.post("/v1/campaigns", headers=op, json={"title": "By string", "level": "store",
                                                             "store_ids": [found], **WIDE})
    assert created.status_code == 201 and created.json()["store_ids"] == [store_id]
    assert client.get("/v1/campaigns", params={"store_id": found}).status_code == 200
    assert client.post("/v1/campaigns", headers=op, json={"title": "x", "level": "store", "store_ids": ["9x"],
                                                          **WIDE}).status_code == 422


def test_unknown_categories_are_named_and_unknown_hours_are_unknown(world):
    client, _, _, _ = world
    typo = client.get("/v1/stores/nearby", params={"lat": 32.0, "lng": 118.0, "category": "caffe"})
    assert typo.status_code == 422 and "store" in typo.json()["detail"]  # the known categories are listed
    feature = client.get("/v1/stores/nearby", params={"lat": 32.0, "lng": 118.0}).json()["features"][0]
    assert feature["properties"]["hours"] is None and feature["properties"]["open_now"] is None
    only_open = client.get("/v1/stores/nearby", params={"lat": 32.0, "lng": 118.0, "open_now": "true"}).json()
    assert only_open["numberMatched"] == 0  # the filter leaves out stores whose hours are unknown, as it says
