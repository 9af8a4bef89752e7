"""Demand sightings reach PostgreSQL by COPY into a scratch table and one INSERT that skips repeats:
the same rows, and the same distinct-user counts, as the portable path - repeats across flushes
and within one are kept once, and each flush leaves the scratch table empty."""

from datetime import UTC, datetime, timedelta

import pytest
from h3.api import basic_int as h3i
from sqlalchemy import func, select

from lbs_service.analytics.demand import DemandRecorder, demand_by_cell
from lbs_service.storage.db import Database
from lbs_service.storage.models import DemandCell

pytestmark = pytest.mark.postgis
AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_copied_sightings_are_kept_once_and_counted_by_distinct_users(pg_settings):
    db = Database(pg_settings)
    recorder = DemandRecorder(db, pg_settings.secret_key)
    spot = (32.0416, 118.7784)
    for n in range(7):  # seven users in one cell, one of them seen three times
        recorder.saw(f"user-{n}", *spot, AT)
    recorder.saw("user-0", *spot, AT + timedelta(minutes=5))
    recorder.saw("user-0", spot[0] + 0.0001, spot[1], AT)  # same cell: a repeat
    recorder.saw("user-1", spot[0], spot[1] + 0.05, AT)  # another cell
    assert recorder.flush() == 8
    recorder.saw("user-0", *spot, AT)  # already written by the last flush
    recorder.saw("user-2", *spot, AT + timedelta(days=1))  # a new day: a new row
    assert recorder.flush() == 2
    assert recorder.flush() == 0
    cell = h3i.latlng_to_cell(*spot, 9)
    with db.session() as session:
        rows = session.execute(select(DemandCell.cell9, DemandCell.day, DemandCell.cell8)).all()
        assert len(rows) == 9
        assert all(cell8 == h3i.cell_to_parent(cell9, 8) for cell9, _, cell8 in rows)
        assert session.scalar(select(func.count()).where(DemandCell.cell9 == cell, DemandCell.day == "2026-03-02")) == 7
    counts = demand_by_cell(db, 9, 7, 5, AT + timedelta(days=1))
    assert counts == {cell: 7}  # distinct users over both days; the other cell (1 user) is withheld
    db.dispose()
