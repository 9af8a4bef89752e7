"""A fix whose arrival was committed but whose fence checkpoint was lost (Redis went away between
the two) and which the client then sends again alerts the store once, not twice."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from lbs_service.storage.db import Database
from lbs_service.storage.models import MemberEvent, OutboxMessage
from tests.clock import iso
from tests.conftest import client_for, operator_headers
from tests.live import token

STORE = {"source_id": "ONCE", "name": "Once cafe", "lat": 31.2304, "lng": 121.4737}
A_VISIT = {"fixes": [{"lat": 31.2504, "lng": 121.4737, "accuracy_m": 10, "ts": "2026-11-22T08:00:00Z"},
                     {"lat": 31.2306, "lng": 121.4739, "accuracy_m": 10, "ts": "2026-11-22T08:01:00Z"}]}


def _every_visit_carded(settings):
    return settings.model_copy(update={"staff_alerts": "all", "arrive_radius_m": 1000.0})


def test_a_retried_fix_after_a_lost_checkpoint_alerts_once(sqlite_settings):
    settings = _every_visit_carded(sqlite_settings)
    fixes = A_VISIT
    user = {"Authorization": f"Bearer {token(settings, 'user', 'retrier')}"}
    with client_for(settings) as client:
        store_id = int(client.post("/v1/stores", json=STORE, headers=operator_headers(settings)).json()["id"])
        assert client.post("/v1/users/me/locations", json=fixes, headers=user).json()["arrivals"] == [store_id]
        engine = client.app.state.services.engine
        client.portal.call(engine.fences.forget, "retrier")  # the checkpoint the first attempt could not save
        again = client.post("/v1/users/me/locations", json=fixes, headers=user)
        assert again.status_code == 200
        later = {"fixes": [{"lat": 31.2504, "lng": 121.4737, "accuracy_m": 10, "ts": "2026-11-22T09:00:00Z"},
                           {"lat": 31.2306, "lng": 121.4739, "accuracy_m": 10, "ts": "2026-11-22T09:01:00Z"}]}
        client.post("/v1/users/me/locations", json=later, headers=user)  # a new visit an hour later counts
    with Database(settings).session() as session:
        alerts = len([m for m in session.scalars(select(OutboxMessage).where(
            OutboxMessage.channel == f"store:{store_id}")) if m.payload["type"] == "arrival"])
        visits = session.scalar(select(func.count()).select_from(MemberEvent).where(MemberEvent.kind == "visit"))
    assert alerts == 2 and visits == 2  # the first visit once (despite the retry), the second once


@pytest.mark.parametrize("database", ["sqlite_settings", "pg_settings"])
def test_a_whole_visit_in_one_commit_is_one_card_and_its_updates(database, request):
    """Approaching, arrived and left in one batch (one group commit, three runs for one visit): the
    card goes out once; the later stages are its updates, on both databases."""
    settings = request.getfixturevalue(database).model_copy(update={"staff_alerts": "all"})
    metres = (900, 800, 700, 0, -1500)  # north of the store; the last one past the exit radius, south
    fixes = {"fixes": [{"lat": 31.2304 + m / 111_195, "lng": 121.4737, "accuracy_m": 10, "ts": iso(10 * n)}
                       for n, m in enumerate(metres)]}
    user = {"Authorization": f"Bearer {token(settings, 'user', 'walker')}"}
    with client_for(settings) as client:
        store_id = int(client.post("/v1/stores", json=STORE, headers=operator_headers(settings)).json()["id"])
        visits = client.post("/v1/users/me/locations", json=fixes, headers=user).json()["visits"]
        assert [v["stage"] for v in visits if v["store_id"] == store_id] == ["nearby", "approaching", "arrived",
                                                                               "left"]
    with Database(settings).session() as session:
        sent = [(m.payload["type"], m.payload["stage"]) for m in session.scalars(
            select(OutboxMessage).where(OutboxMessage.channel == f"store:{store_id}").order_by(OutboxMessage.id))
            if m.payload["type"] in ("arrival", "visit")]
    assert sent == [("arrival", "approaching"), ("visit", "arrived"), ("visit", "left")]


def test_a_committed_arrival_counts_for_the_member_the_worker_holds(sqlite_settings):
    """After an arrival commits, the worker's copy of the member counts the visit (tiers, audiences of
    "visited ...") without waiting for a reload from the event log."""
    settings = _every_visit_carded(sqlite_settings)
    user = {"Authorization": f"Bearer {token(settings, 'user', 'counted')}"}
    with client_for(settings) as client:
        store_id = int(client.post("/v1/stores", json=STORE, headers=operator_headers(settings)).json()["id"])
        engine = client.app.state.services.engine
        client.portal.call(engine.customers.get, "counted", datetime(2026, 11, 22, 7, tzinfo=UTC))  # held, no visit
        assert client.post("/v1/users/me/locations", json=A_VISIT, headers=user).json()["arrivals"] == [store_id]
        held = engine.customers.peek("counted")
        assert held is not None and held.facts.visits == 1
        assert [store for _, _, store, _ in held.facts.recent_visits] == [store_id]
