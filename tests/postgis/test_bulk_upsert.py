"""The COPY-based import path on PostgreSQL keeps awkward text intact and counts inserts and updates."""

import json

import pytest
from sqlalchemy import text

from lbs_service.storage.db import Database
from lbs_service.storage.stores import StoreRepository

pytestmark = pytest.mark.postgis

AWKWARD = "tab\there, newline\nthere, back\\slash, \"quotes\", 'single', 咖啡 ☕, \\N"


def _row(source_id: str, name: str, lat: float) -> dict:
    return {"source_id": source_id, "name": name, "category": "cafe", "address": AWKWARD, "phone": None,
            "hours": {"mon": [["07:00", "22:00"]]}, "timezone": "Asia/Shanghai", "status": "open",
            "attributes": {"note": AWKWARD, "floor": "2"}, "lat": lat, "lng": 121.47}


def test_copy_upsert_round_trips_text_json_and_counts(pg_settings):
    db = Database(pg_settings)
    repository = StoreRepository(db)
    with db.engine.connect() as connection:
        before = connection.execute(text("SELECT coalesce(max(seq), 0) FROM store_changes")).scalar()
    rows = [_row(f"BULK-{n}", f"Café {n} {AWKWARD}", 31.2 + n * 1e-4) for n in range(2500)]  # two chunks
    assert repository.upsert_many("bulk-merchant", rows) == (2500, 0)
    changed = [{**row, "name": row["name"] + " (moved)", "lat": row["lat"] + 0.01} for row in rows[:10]]
    new = [_row("BULK-new", "New one", 31.0)]
    assert repository.upsert_many("bulk-merchant", changed + new) == (1, 10)
    with db.engine.connect() as connection:
        stored = connection.execute(text(
            "SELECT name, address, hours::text, attributes::text, lat, ST_Y(geog::geometry) FROM stores "
            "WHERE source_id = 'BULK-3'")).one()
        changes = connection.execute(text("SELECT count(*) FROM store_changes WHERE seq > :s"), {"s": before}).scalar()
    name, address, hours, attributes, lat, geog_lat = stored
    assert name == f"Café 3 {AWKWARD} (moved)" and address == AWKWARD
    assert json.loads(hours) == {"mon": [["07:00", "22:00"]]}
    assert json.loads(attributes) == {"note": AWKWARD, "floor": "2"}
    assert lat == pytest.approx(31.2 + 3e-4 + 0.01) and geog_lat == pytest.approx(lat)
    assert changes == 2500 + 11  # one change-feed row per write, so running workers pick every one up
    db.engine.dispose()
