"""The group commit's two writers - PostgreSQL's pipelined one (rows sent as JSON documents) and the
session one SQLite uses - leave the same rows for the same transactions: visits through their stages,
member events, promotions, outbox rows and the marks of what was relayed, with instants to the
microsecond and text beyond ASCII intact."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from geo_index.visits import Change, Stage
from lbs_service.outbox.relay import IN_FLIGHT
from lbs_service.proximity.effects import StageChange
from lbs_service.proximity.visit_store import Rows, writer_for
from lbs_service.storage.db import Database
from lbs_service.storage.models import MemberEvent, OutboxMessage, PromotionSent, Visit
from tests.clock import T0

pytestmark = pytest.mark.postgis
T1, T2 = T0 + timedelta(seconds=30, microseconds=123_456), T0 + timedelta(minutes=12, microseconds=7)
MARKED = T2 + timedelta(seconds=1)
LATER = T0 + timedelta(hours=3)  # past STALE_AFTER: a visit still open since T0 was abandoned


def _change(user: str, store: int, change: Change, stage: Stage, at, dwell_s=None) -> StageChange:
    return StageChange(user, store, change, stage, at, 250.0, None, dwell_s, True, {})


def _transactions(writer, db: Database):
    """Two transactions as the committer makes them; what the writer answered along the way."""
    runs = [[_change("ana", 1, Change.STARTED, Stage.NEARBY, T0),
             _change("李雷", 2, Change.STARTED, Stage.ARRIVED, T1), _change("bo", 3, Change.STARTED, Stage.NEARBY, T0)],
            [_change("ana", 1, Change.APPROACHING, Stage.APPROACHING, T1)],
            [_change("ana", 1, Change.LEFT, Stage.LEFT, T2, dwell_s=691.25)]]
    applied = writer.apply(runs, 1)
    took = [sorted((a.change.user_id, a.change.store_id, a.change.stage, a.card_sent) for a in run) for run in applied]
    arrived = next(a.visit_id for run in applied for a in run if a.change.user_id == "李雷")
    ids = writer.finish(Rows(
        carded=[arrived],
        events=[{"user_id": "ana", "store_id": 1, "kind": "visit_end", "data": {"visit_id": 1, "dwell_s": 691},
                 "at": T2},
                {"user_id": "李雷", "store_id": 2, "kind": "visit", "data": {"note": "咖啡 ☕ \"quoted\""}, "at": T1}],
        promotions=[{"user_id": "ana", "store_id": 1, "campaign_id": 7, "local_day": "2026-06-01", "sent_at": T1}],
        outbox=[{"channel": "store:2", "payload": {"type": "arrival", "name": "咖啡 ☕", "distance_m": 12.5,
                                                   "context": {"lines": [1, 2]}}, "subject": "李雷"},
                {"channel": "user:ana", "payload": {"type": "promotion", "title": "Café"}, "subject": "ana"}],
        marks=[]), T2)
    with db.session() as session:
        in_flight = list(session.scalars(select(OutboxMessage.relayed_at).where(OutboxMessage.id.in_(ids))))
    again = writer.apply([[_change("ana", 1, Change.ARRIVED, Stage.ARRIVED, T2),  # past left: nothing moves
                           _change("李雷", 2, Change.STARTED, Stage.NEARBY, T2),  # open already: nothing
                           _change("bo", 3, Change.STARTED, Stage.NEARBY, LATER)]], 0)  # the old one ends
    writer.finish(Rows([], [], [], [], marks=[(ids[0], 42), (ids[1], None)]), MARKED)
    return took, [len(run) for run in again], in_flight


def _stored(db: Database):
    with db.session() as session:
        visits = [(v.user_id, v.store_id, v.stage, v.started_at, v.approaching_at, v.arrived_at, v.left_at,
                   v.dwell_s, v.card_sent) for v in session.scalars(select(Visit).order_by(Visit.user_id, Visit.id))]
        events = [(e.user_id, e.store_id, e.kind, e.data, e.at) for e in
                  session.scalars(select(MemberEvent).order_by(MemberEvent.id))]
        promotions = [(p.user_id, p.store_id, p.campaign_id, p.local_day, p.sent_at) for p in
                      session.scalars(select(PromotionSent))]
        outbox = [(m.channel, m.payload, m.subject, m.relayed_at, m.stream_id) for m in
                  session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]
    return visits, events, promotions, outbox


def test_both_writers_leave_the_same_rows(sqlite_settings, pg_settings):
    results = {}
    for name, settings in (("sqlite", sqlite_settings), ("postgresql", pg_settings)):
        db = Database(settings)
        writer = writer_for(db)
        try:
            results[name] = (_transactions(writer, db), _stored(db))
        finally:
            writer.close()
            db.engine.dispose()
    assert results["postgresql"] == results["sqlite"]
    (took, moved_again, in_flight), (visits, events, promotions, outbox) = results["postgresql"]
    assert took == [[("ana", 1, Stage.NEARBY, False), ("bo", 3, Stage.NEARBY, False),
                     ("李雷", 2, Stage.ARRIVED, False)],
                    [("ana", 1, Stage.APPROACHING, False)], [("ana", 1, Stage.LEFT, False)]]
    assert moved_again == [1] and in_flight == [IN_FLIGHT, IN_FLIGHT]
    assert visits == [("ana", 1, 4, T0, T1, None, T2, 691.25, False),
                      ("bo", 3, 4, T0, None, None, T0, None, False), ("bo", 3, 1, LATER, None, None, None, None, False),
                      ("李雷", 2, 3, T1, None, T1, None, None, True)]
    assert events[1] == ("李雷", 2, "visit", {"note": "咖啡 ☕ \"quoted\""}, T1)
    assert promotions == [("ana", 1, 7, "2026-06-01", T1)]
    card = {"type": "arrival", "name": "咖啡 ☕", "distance_m": 12.5, "context": {"lines": [1, 2]}}
    assert outbox == [("store:2", card, "李雷", MARKED, 42),
                      ("user:ana", {"type": "promotion", "title": "Café"}, "ana", MARKED, None)]
