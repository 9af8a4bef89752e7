"""The planner's layers: coverage of one merchant's or one category's stores, exact against brute
force; outlet performance (visits, redemptions, orders) counted from the member log and withheld
below k people, a merchant seeing only its own; suggested sites named by street and district."""

from datetime import timedelta

import numpy as np
from h3.api import basic_int as h3i
from sqlalchemy import select

from lbs_service.analytics.demand import DemandRecorder
from lbs_service.analytics.site_names import street_of
from lbs_service.demo import DEMO_DIRS
from lbs_service.importer.boundaries import import_boundaries
from lbs_service.storage.db import Database
from lbs_service.storage.models import MemberEvent, Store
from lbs_service.storage.stores import StoreRepository
from tests.clock import T0
from tests.conftest import client_for
from tests.live import token
from tests.reference import haversine_m
from tests.service.test_coverage import BBOX, auth
from tests.service.test_nearby_api import seed


def test_coverage_of_one_category_or_merchant_counts_only_their_stores(sqlite_settings):
    rows = seed(sqlite_settings, count=300)  # alternating cafe / telecom_hall, one merchant
    StoreRepository(Database(sqlite_settings)).upsert_many("Other Chain", [
        {**rows[0], "source_id": "O-1", "name": "Other cafe", "lat": 32.05, "lng": 118.78}])
    cafes = [r for r in rows if r["category"] == "cafe"]
    lats, lngs = np.array([r["lat"] for r in cafes]), np.array([r["lng"] for r in cafes])
    with Database(sqlite_settings).session() as session:
        merchant = session.scalar(select(Store.merchant_id).where(Store.source_id == "S0"))
    with client_for(sqlite_settings) as client:
        operator = auth(sqlite_settings, "operator", "op")
        answer = client.get("/v1/coverage", headers=operator, params={
            "bbox": BBOX, "res": 8, "radius_m": 800, "category": "cafe", "merchant_id": merchant})
        assert answer.status_code == 200, answer.text
        for feature in answer.json()["features"]:
            lat, lng = h3i.cell_to_latlng(h3i.str_to_int(feature["properties"]["cell"]))
            assert feature["properties"]["stores_within"] == int((haversine_m(lat, lng, lats, lngs) <= 800).sum())
        unknown = client.get("/v1/coverage", headers=operator, params={"bbox": BBOX, "category": "cafes"})
        assert unknown.status_code == 422 and "known: cafe" in unknown.json()["detail"]


def test_outlet_performance_is_counted_from_the_log_and_withheld_below_k(sqlite_settings):
    """T0 is Monday of ISO week 2026-W48: the last completed week is W47 (16-22 November, UTC)."""
    seed(sqlite_settings, count=20)
    db = Database(sqlite_settings)
    with db.session() as session:
        stores = session.execute(select(Store.id, Store.merchant_id).order_by(Store.id)).all()
    busy, quiet = stores[0][0], stores[1][0]
    merchant = stores[0][1]
    sunday = T0 - timedelta(hours=5)  # the last hours of W47
    with db.transaction() as session:
        for n in range(6):  # six people visit the busy store, two of them twice; two redeem there
            for _ in range(1 + (n < 2)):
                session.add(MemberEvent(user_id=f"u{n}", store_id=busy, kind="visit", data={}, at=sunday))
        for n in range(2):
            session.add(MemberEvent(user_id=f"u{n}", store_id=busy, kind="redeem", data={}, at=sunday))
        session.add(MemberEvent(user_id="old", store_id=busy, kind="visit", data={}, at=T0 - timedelta(days=8)))
        session.add(MemberEvent(user_id="now", store_id=busy, kind="visit", data={}, at=T0))  # W48: not over
        for n in range(3):
            session.add(MemberEvent(user_id=f"q{n}", store_id=quiet, kind="visit", data={}, at=sunday))
    area = {"bbox": "118.0,31.5,119.5,32.5"}
    with client_for(sqlite_settings) as client:
        operator = auth(sqlite_settings, "operator", "op")
        report = client.get("/v1/reports/stores/performance", params=area, headers=operator)
        assert report.status_code == 200, report.text
        body = report.json()
        assert body == client.get("/v1/reports/stores/performance", params={**area, "week": "2026-W47"},
                                  headers=operator).json()
        by_id = {s["store_id"]: s for s in body["stores"]}
        assert body["week"] == "2026-W47" and body["k"] == sqlite_settings.demand_min_users == 5
        assert len(body["stores"]) == 20
        assert (by_id[busy]["visits"], by_id[busy]["redemptions"], by_id[busy]["orders"]) == (8, None, 0)
        assert by_id[quiet]["visits"] is None  # three people: withheld, not "3"
        for week in ("2026-W48", "2026-W49", "2025-W53", "2026-W00", "2026-48"):  # not over, or not a week
            assert client.get("/v1/reports/stores/performance", params={**area, "week": week},
                              headers=operator).status_code == 422, week
        assert client.get("/v1/reports/stores/performance", params={"bbox": "119.5,32.5,118.0,31.5"},
                          headers=operator).status_code == 422  # an inverted box is a mistake, not "nothing"
        other_merchant = {"Authorization": f"Bearer {token(sqlite_settings, 'merchant', 'm', None, merchant + 1)}"}
        theirs = client.get("/v1/reports/stores/performance", params=area, headers=other_merchant)
        assert theirs.status_code == 200 and theirs.json()["stores"] == []  # only its own outlets
        assert client.get("/v1/reports/stores/performance", params={**area, "merchant_id": merchant},
                          headers=other_merchant).status_code == 403
        assert client.get("/v1/reports/stores/performance", params=area,
                          headers=auth(sqlite_settings, "user", "u")).status_code == 403


def test_suggested_sites_have_a_name_a_person_can_act_on(sqlite_settings):
    rows = seed(sqlite_settings, count=40)
    db = Database(sqlite_settings)
    import_boundaries(db, DEMO_DIRS[0] / "districts.geojson")
    StoreRepository(db).upsert_many("Corner Chain", [{  # 445 m north of where people are, outside 300 m
        **rows[0], "source_id": "C-1", "name": "Corner shop", "lat": 32.114, "lng": 118.93,
        "address": "88 Xianlin Avenue, Nanjing"}])
    recorder = DemandRecorder(db, sqlite_settings.secret_key)
    for n in range(12):
        recorder.saw(f"d{n}", 32.11, 118.93, T0)
    recorder.flush()
    with client_for(sqlite_settings) as client:
        gaps = client.get("/v1/coverage/gaps", params={"bbox": "118.85,32.05,118.98,32.15", "res": 9,
                                                       "radius_m": 300, "suggest": 1},
                          headers=auth(sqlite_settings, "operator", "op"))
        assert gaps.status_code == 200, gaps.text
    (site,) = gaps.json()["suggestions"]
    assert site["gained_demand"] == 12
    assert site["name"] == "Xianlin Avenue, Demo district 9" and site["district"] == "Demo district 9"
    assert site["near_store"] == "Corner shop" and 0 < site["near_m"] < 1000


def test_streets_are_read_from_addresses_as_people_write_them():
    assert street_of("541 Hexi Road, Nanjing") == "Hexi Road"
    assert street_of("No. 12 Zhongshan Road") == "Zhongshan Road"
    assert street_of("南京市玄武区中山路123号") == "南京市玄武区中山路"
    assert street_of("Hexi Road") == "Hexi Road"
    assert street_of("") is None and street_of(None) is None and street_of("12, Nanjing") is None
