"""Utility bills paid at an outlet: recorded once per Idempotency-Key by the store's staff, the account
kept only as a keyed hash, and counted in the outlet's monthly volume, star tier and rebate."""

import csv
import io

from sqlalchemy import select

from lbs_service.storage.db import Database
from lbs_service.storage.models import BillPayment, Store
from tests.conftest import client_for
from tests.service.test_orders import auth, shop

ACCOUNT = "WATER-3201-55512"


def test_bills_are_recorded_once_hashed_and_counted_in_rebates(sqlite_settings):
    with client_for(sqlite_settings) as client:
        (a, b, _), _ = shop(sqlite_settings, client)
        staff = {**auth(sqlite_settings, "staff", "clerk", a), "Idempotency-Key": "bill-1"}
        body = {"utility": "electricity", "account_ref": ACCOUNT, "amount_cents": 60_000}
        first = client.post(f"/v1/stores/{a}/bill-payments", headers=staff, json=body)
        assert first.status_code == 201, first.text
        assert client.post(f"/v1/stores/{a}/bill-payments", headers=staff, json=body).json() == first.json()
        changed = client.post(f"/v1/stores/{a}/bill-payments", headers=staff, json={**body, "amount_cents": 1})
        assert changed.status_code == 422  # the same key for another payment
        for n in range(2):
            assert client.post(f"/v1/stores/{a}/bill-payments", headers=auth(sqlite_settings, "staff", "clerk", a),
                               json={"utility": "gas", "account_ref": f"GAS {n}", "amount_cents": 25_000}
                               ).status_code == 201
        other = client.post(f"/v1/stores/{a}/bill-payments", headers=auth(sqlite_settings, "staff", "x", b), json=body)
        assert other.status_code == 403
        with Database(sqlite_settings).session() as session:
            rows = session.scalars(select(BillPayment)).all()
        assert len(rows) == 3 and all(ACCOUNT not in r.account_hash and "GAS" not in r.account_hash for r in rows)
        assert ACCOUNT.encode() not in sqlite_settings.sqlite_path.read_bytes()
        operator = auth(sqlite_settings, "operator", "op")
        month = client.get("/v1/reports/rebates?month=2026-11", headers=operator).json()
        row = next(r for r in month if r["store_id"] == a)
        assert (row["bill_payments"], row["bill_cents"], row["volume_cents"]) == (3, 110_000, 110_000)
        assert row["stars"] == 2 and row["rebate_cents"] == 110_000 * 50 // 10_000  # the 100,000-cent band
        exported = list(csv.DictReader(io.StringIO(client.get("/v1/reports/rebates?month=2026-11&format=csv",
                                                              headers=operator).text)))
        assert next(r for r in exported if r["store_id"] == str(a))["bill_payments"] == "3"


def test_an_outlet_that_lists_its_utilities_takes_only_those(sqlite_settings):
    with client_for(sqlite_settings) as client:
        (a, *_), _ = shop(sqlite_settings, client)
        with Database(sqlite_settings).transaction() as session:
            session.get(Store, a).attributes = {"utilities": "water;gas"}
        staff = auth(sqlite_settings, "staff", "clerk", a)
        refused = client.post(f"/v1/stores/{a}/bill-payments", headers=staff,
                              json={"utility": "electricity", "account_ref": "E1", "amount_cents": 100})
        assert refused.status_code == 422 and "electricity" in refused.json()["detail"]
        assert client.post(f"/v1/stores/{a}/bill-payments", headers=staff,
                           json={"utility": "water", "account_ref": "W1", "amount_cents": 100}).status_code == 201


def test_bad_bills_are_refused(sqlite_settings):
    with client_for(sqlite_settings) as client:
        (a, *_), _ = shop(sqlite_settings, client)
        staff = auth(sqlite_settings, "staff", "clerk", a)
        for body in ({"utility": "internet", "account_ref": "A", "amount_cents": 1},
                     {"utility": "gas", "account_ref": "", "amount_cents": 1},
                     {"utility": "gas", "account_ref": "   ", "amount_cents": 1},
                     {"utility": "gas", "account_ref": "A", "amount_cents": 0},
                     {"utility": "gas", "account_ref": "A\u0000", "amount_cents": 1},
                     {"utility": "gas", "account_ref": "A", "amount_cents": 2**63}):
            assert client.post(f"/v1/stores/{a}/bill-payments", headers=staff, json=body).status_code == 422, body


def test_nearby_shows_which_bills_an_outlet_takes(sqlite_settings):
    from lbs_service.storage.stores import StoreRepository

    StoreRepository(Database(sqlite_settings)).upsert_many("Pay", [
        {"source_id": "PAY1", "name": "Pay point", "category": "bill_payment", "hours": None,
         "timezone": "Asia/Shanghai", "status": "open", "attributes": {"utilities": "gas; Water"}, "lat": 32.0,
         "lng": 118.0, "address": None, "phone": None},
        {"source_id": "CAFE", "name": "Cafe", "category": "cafe", "hours": None, "timezone": "Asia/Shanghai",
         "status": "open", "attributes": {}, "lat": 32.0001, "lng": 118.0, "address": None, "phone": None}])
    with client_for(sqlite_settings) as client:
        features = client.get("/v1/stores/nearby", params={"lat": 32.0, "lng": 118.0, "radius_m": 100}).json()[
            "features"]
        by_source = {f["properties"]["source_id"]: f["properties"] for f in features}
        assert by_source["PAY1"]["utilities"] == ["water", "gas"] and "utilities" not in by_source["CAFE"]
        detail = client.get(f"/v1/stores/{next(f['id'] for f in features if f['properties']['source_id'] == 'PAY1')}")
        assert detail.json()["properties"]["utilities"] == ["water", "gas"]
