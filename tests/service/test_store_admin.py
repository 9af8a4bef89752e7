"""Operators' store writes, strict bodies, tokens, and the change feed that carries writes to every worker."""

import time

import pytest

from lbs_service.auth import Principal, mint_token
from tests.conftest import client_for, operator_headers

STORE = {"source_id": "A-1", "name": "Hall One", "category": "telecom_hall", "lat": 32.05, "lng": 118.78,
         "hours": {"mon": [["09:00", "18:00"]]}, "timezone": "Asia/Shanghai"}


def nearby_ids(client, lat=32.05, lng=118.78, radius=500):
    body = client.get("/v1/stores/nearby", params={"lat": lat, "lng": lng, "radius_m": radius}).json()
    return [f["id"] for f in body["features"]]


def eventually(check, within_s=1.0):
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


def test_create_update_delete(sqlite_settings):
    headers = operator_headers(sqlite_settings)
    with client_for(sqlite_settings) as client:
        created = client.post("/v1/stores", json=STORE, headers=headers)
        assert created.status_code == 201
        store_id = created.json()["id"]
        assert nearby_ids(client) == [store_id]  # read-your-writes on the same worker
        moved = client.patch(f"/v1/stores/{store_id}", json={"lat": 32.2, "lng": 118.9}, headers=headers)
        assert moved.status_code == 200 and moved.json()["geometry"]["coordinates"] == [118.9, 32.2]
        assert nearby_ids(client) == [] and nearby_ids(client, 32.2, 118.9) == [store_id]
        closed = client.patch(f"/v1/stores/{store_id}", json={"status": "closed"}, headers=headers)
        assert closed.json()["properties"]["status"] == "closed" and nearby_ids(client, 32.2, 118.9) == []
        assert client.delete(f"/v1/stores/{store_id}", headers=headers).status_code == 204
        assert client.get(f"/v1/stores/{store_id}").status_code == 404
        assert client.delete(f"/v1/stores/{store_id}", headers=headers).status_code == 404


def test_duplicate_source_id_is_a_conflict(sqlite_settings):
    headers = operator_headers(sqlite_settings)
    with client_for(sqlite_settings) as client:
        assert client.post("/v1/stores", json=STORE, headers=headers).status_code == 201
        again = client.post("/v1/stores", json=STORE, headers=headers)
        assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("change", [
    {"surprise": 1}, {"lat": "32.05"}, {"lat": True}, {"lat": 91}, {"lng": float("inf")}, {"name": ""},
    {"hours": {"someday": [["09:00", "10:00"]]}}, {"hours": {"mon": [["25:00", "26:00"]]}},
    {"timezone": "Mars/Olympus"}, {"status": "maybe"}, {"crs": "epsg:3857"},
], ids=str)
def test_bad_store_bodies_are_refused(sqlite_settings, change):
    headers = operator_headers(sqlite_settings)
    with client_for(sqlite_settings) as client:
        response = client.post("/v1/stores", content=_json({**STORE, **change}), headers={
            **headers, "content-type": "application/json"})
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert nearby_ids(client) == []


def _json(body):
    import json

    return json.dumps(body, allow_nan=True)


def test_writes_need_an_operator_token(sqlite_settings):
    with client_for(sqlite_settings) as client:
        assert client.post("/v1/stores", json=STORE).status_code == 401
        user = mint_token(sqlite_settings, Principal("user", "u1"))
        assert client.post("/v1/stores", json=STORE, headers={"Authorization": f"Bearer {user}"}).status_code == 403
        expired = mint_token(sqlite_settings, Principal("operator", "op"), ttl_s=-10)
        response = client.post("/v1/stores", json=STORE, headers={"Authorization": f"Bearer {expired}"})
        assert response.status_code == 401 and "expired" in response.json()["detail"]
        forged = mint_token(sqlite_settings.model_copy(update={"secret_key": "x" * 32}), Principal("operator", "op"))
        assert client.post("/v1/stores", json=STORE, headers={"Authorization": f"Bearer {forged}"}).status_code == 401


def test_a_write_on_one_worker_reaches_another_within_a_second(sqlite_settings):
    headers = operator_headers(sqlite_settings)
    with client_for(sqlite_settings) as writer, client_for(sqlite_settings) as reader:
        store_id = writer.post("/v1/stores", json=STORE, headers=headers).json()["id"]
        assert eventually(lambda: nearby_ids(reader) == [store_id])
        writer.patch(f"/v1/stores/{store_id}", json={"lat": 32.3, "lng": 118.6}, headers=headers)
        assert eventually(lambda: nearby_ids(reader, 32.3, 118.6) == [store_id] and nearby_ids(reader) == [])
        writer.patch(f"/v1/stores/{store_id}", json={"status": "closed"}, headers=headers)
        assert eventually(lambda: nearby_ids(reader, 32.3, 118.6) == [])
