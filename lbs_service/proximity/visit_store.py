"""Visit rows, and the rest of a group commit's transaction, in the database.

The rules (both databases): a start inserts an open visit unless one is open already for that
(user, store) - then the open one continues; an open visit untouched for STALE_AFTER was abandoned
(its worker was lost) and ends where it was last seen, so the start begins a new one. A stage change
applies only to the open visit and only if it moves the stage forward. Both report the rows they
really changed, and only those produce messages: a fix applied twice (a retry, a worker resumed from
an older checkpoint) changes nothing the second time.

A transaction is two steps - `apply` the visit changes of each run and learn what changed, then
`finish` with the rows that follow (cards marked, member events, promotions sent, outbox rows, the
relay marks of the previous round, Web Push deliveries) and commit - so that on PostgreSQL each step is one pipelined
round trip (PipelinedWriter). A round trip costs ~0.4 ms on a busy machine, and statement by
statement a transaction took ten of them while cards waited. Each statement takes its rows as one
JSON document (orjson), read by json_to_recordset: psycopg dumping arrays element by element in Python
was a third of the committing thread's work, holding the GIL the event loop needs (profiled).
SQLite (the embedded default) goes statement by statement through a session (SessionWriter).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import orjson
import psycopg
from sqlalchemy import bindparam, func, insert, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from lbs_service.outbox.pushes import QUEUE_MANY_SQL, Notice, queue_pushes
from lbs_service.outbox.relay import IN_FLIGHT, mark_relayed
from lbs_service.proximity.effects import StageChange
from lbs_service.storage.db import Database
from lbs_service.storage.models import MemberEvent, OutboxMessage, PromotionSent, Visit

STATEMENT_TIMEOUT_MS = 15_000
STALE_AFTER = timedelta(hours=2)  # an open visit not updated for this long was abandoned (a lost worker)
_STAGE_COLUMN = {2: "approaching_at", 3: "arrived_at", 4: "left_at"}


@dataclass(frozen=True)
class Applied:
    """A change the database took: the visit it applies to, and whether staff already have its card."""

    visit_id: int
    change: StageChange
    card_sent: bool


@dataclass(frozen=True)
class Rows:
    """What follows from the applied changes, written with the commit."""

    carded: list[int]  # visits whose card goes out now
    events: list[dict[str, Any]]  # member events: user_id, store_id, kind, data, at
    promotions: list[dict[str, Any]]  # user_id, store_id, campaign_id, local_day, sent_at
    outbox: list[dict[str, Any]]  # channel, payload, subject
    marks: list[tuple[int, int | None]]  # outbox rows relayed last round, with their stream ids
    pushes: list[Notice] = field(default_factory=list)  # Web Push owed to users' subscriptions


class CommitWriter(Protocol):
    """The database side of a group commit: visit rows first, then the rest of the transaction."""

    def apply(self, runs: list[list[StageChange]], promotions: int) -> list[list[Applied]]:
        """Begin the transaction and apply each run's starts and stage changes, in order (`promotions`:
        how many promotions the transaction will also carry)."""
        ...

    def finish(self, rows: Rows, now: datetime) -> list[int]:
        """Write the rows and commit; returns the outbox rows' ids, in order."""
        ...

    def abort(self) -> None:
        """Give up the transaction (after an error): nothing of it is committed."""
        ...

    def close(self) -> None:
        """Let go of the database connection (the committer is stopping)."""
        ...


def writer_for(db: Database) -> CommitWriter:
    return PipelinedWriter(db) if db.is_postgres else SessionWriter(db)


def _stage_at(change: StageChange, stage: int) -> datetime | None:
    """When the visit reached `stage`, if this change took it there (a start may jump to arrived)."""
    return change.at if int(change.stage) == stage else None


# ---- PostgreSQL: two pipelined round trips ------------------------------------------------------
# Every statement here finds its rows through an index, one (user, store) or id at a time: LATERAL
# ... LIMIT 1 (never flattened into a join), and no hash or merge join or sequential scan for this
# transaction - a table younger than autovacuum's first ANALYZE was otherwise read in full on every
# commit, whatever its size.
# The first statement of the transaction also takes the outbox ids from the sequence (as many as
# there could be messages), given to the rows in order, so the rows go in with no result to wait for.
_BEGIN = ("SELECT set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true), "
          "set_config('enable_seqscan', 'off', true), ARRAY(SELECT nextval('outbox_id_seq') FROM "
          "generate_series(1, %s))")
_CLOSE_STALE = (
    "UPDATE visits SET stage = 4, left_at = visits.updated_at FROM json_to_recordset(%s::json) AS "
    "x(u varchar, s bigint, a timestamptz), LATERAL (SELECT o.id FROM visits o WHERE o.user_id = x.u "
    "AND o.store_id = x.s AND o.left_at IS NULL LIMIT 1) AS v WHERE visits.id = v.id AND visits.updated_at < x.a")
_START = (
    "INSERT INTO visits (user_id, store_id, stage, started_at, approaching_at, arrived_at, updated_at) "
    "SELECT u, s, st, a, ap, ar, a FROM json_to_recordset(%s::json) AS "
    "x(u varchar, s bigint, st smallint, a timestamptz, ap timestamptz, ar timestamptz) "
    "ON CONFLICT (user_id, store_id) WHERE left_at IS NULL DO NOTHING RETURNING id, user_id, store_id")
# Every change of a run, starts included: a start just inserted is at its own stage already (no-op),
# one that found a live visit open moves it forward like any stage change.
_ADVANCE = (
    "UPDATE visits SET stage = x.st, updated_at = x.a, dwell_s = COALESCE(x.d, visits.dwell_s), "
    "approaching_at = CASE WHEN x.st = 2 THEN x.a ELSE visits.approaching_at END, "
    "arrived_at = CASE WHEN x.st = 3 THEN x.a ELSE visits.arrived_at END, "
    "left_at = CASE WHEN x.st = 4 THEN x.a ELSE visits.left_at END "
    "FROM json_to_recordset(%s::json) AS x(u varchar, s bigint, st smallint, a timestamptz, d float8), "
    "LATERAL (SELECT o.id FROM visits o WHERE o.user_id = x.u AND o.store_id = x.s AND o.left_at IS NULL LIMIT 1) "
    "AS v WHERE visits.id = v.id AND visits.stage < x.st "
    "RETURNING visits.id, visits.user_id, visits.store_id, visits.card_sent")
# The rest of the transaction is one statement (each statement in a pipeline is a turn of the GIL
# for the committing thread, which shares it with a busy event loop): data-modifying CTEs always run
# to completion, and none of these touches a row another one writes.
_FINISH = (
    "WITH carded AS (UPDATE visits SET card_sent = TRUE WHERE id = ANY(ARRAY(SELECT value::bigint FROM "
    "json_array_elements_text(%(carded)s::json)))), "
    "events AS (INSERT INTO member_events (user_id, store_id, kind, data, at) SELECT * FROM json_to_recordset("
    "%(events)s::json) AS x(u varchar, s bigint, k varchar, d json, a timestamptz)), "
    "promoted AS (INSERT INTO promotions (user_id, store_id, campaign_id, local_day, sent_at) SELECT * FROM "
    "json_to_recordset(%(promoted)s::json) AS x(u varchar, s bigint, c bigint, d varchar, a timestamptz)), "
    "messages AS (INSERT INTO outbox (id, channel, payload, relayed_at, subject) SELECT i, c, p, %(in_flight)s, s "
    "FROM json_to_recordset(%(outbox)s::json) AS x(i bigint, c varchar, p json, s varchar)), "
    "relayed AS (UPDATE outbox SET relayed_at = %(now)s, stream_id = COALESCE(x.sid, outbox.stream_id) FROM "
    "json_to_recordset(%(relayed)s::json) AS x(id bigint, sid bigint) WHERE outbox.id = x.id) "
    "SELECT 1")


def _json(rows: Any) -> str:
    """One statement's rows as a JSON document (instants in ISO 8601, with their offset)."""
    return orjson.dumps(rows).decode()


class PipelinedWriter:
    """A connection of the committer's own (one commit at a time), outside the pool: no ping per
    checkout. A failed transaction closes it; the next one connects again."""

    def __init__(self, db: Database) -> None:
        self._conninfo = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._connection: psycopg.Connection[Any] | None = None
        self._ids: list[int] = []  # outbox ids taken for this transaction

    def _connect(self) -> psycopg.Connection[Any]:
        if self._connection is None or self._connection.closed:
            # Keepalives and a statement timeout: a half-open connection or a stuck statement fails the
            # round (its effects are retried) instead of stalling every commit behind it.
            self._connection = psycopg.connect(self._conninfo, connect_timeout=5, keepalives=1, keepalives_idle=10,
                                               keepalives_interval=5, keepalives_count=3,
                                               options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}")
        return self._connection

    def apply(self, runs: list[list[StageChange]], promotions: int) -> list[list[Applied]]:
        connection = self._connect()
        queued = []
        with connection.pipeline():
            begun = connection.execute(_BEGIN, (sum(len(run) for run in runs) + promotions,))
            for run in runs:
                starts = [c for c in run if c.starts]
                if starts:
                    connection.execute(_CLOSE_STALE, (_json([{"u": c.user_id, "s": c.store_id,
                                                              "a": c.at - STALE_AFTER} for c in starts]),))
                    inserted = connection.execute(_START, (_json([
                        {"u": c.user_id, "s": c.store_id, "st": int(c.stage), "a": c.at, "ap": _stage_at(c, 2),
                         "ar": _stage_at(c, 3)} for c in starts]),))
                else:
                    inserted = None
                moved = connection.execute(_ADVANCE, (_json([
                    {"u": c.user_id, "s": c.store_id, "st": int(c.stage), "a": c.at, "d": c.dwell_s}
                    for c in run]),))
                queued.append((run, inserted, moved))
        row = begun.fetchone()
        self._ids = sorted(row[3]) if row is not None else []
        applied = []
        for run, inserted, moved in queued:
            by_key = {(c.user_id, c.store_id): c for c in run}
            took = [Applied(i, by_key[(u, s)], False) for i, u, s in (inserted.fetchall() if inserted else [])]
            took += [Applied(i, by_key[(u, s)], bool(sent)) for i, u, s, sent in moved.fetchall()]
            applied.append(took)
        return applied

    def finish(self, rows: Rows, now: datetime) -> list[int]:
        connection = self._connect()
        ids, self._ids = self._ids[:len(rows.outbox)], []
        with connection.pipeline():
            connection.execute(_FINISH, {
                "carded": _json(rows.carded),
                "events": _json([{"u": e["user_id"], "s": e["store_id"], "k": e["kind"], "d": e["data"], "a": e["at"]}
                                 for e in rows.events]),
                "promoted": _json([{"u": p["user_id"], "s": p["store_id"], "c": p["campaign_id"], "d": p["local_day"],
                                    "a": p["sent_at"]} for p in rows.promotions]),
                "outbox": _json([{"i": i, "c": r["channel"], "p": r["payload"], "s": r["subject"]}
                                 for i, r in zip(ids, rows.outbox, strict=True)]),
                "relayed": _json([{"id": row_id, "sid": stream_id} for row_id, stream_id in rows.marks]),
                "in_flight": IN_FLIGHT, "now": now})
            if rows.pushes:
                connection.execute(QUEUE_MANY_SQL, {"now": now, "pushes": _json([
                    {"u": n.user_id, "k": n.kind.value, "p": n.payload, "t": n.topic, "r": n.urgency}
                    for n in rows.pushes])})
            connection.commit()
        return ids

    def abort(self) -> None:
        self.close()  # a pipeline in error is no state to continue from

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None


# ---- SQLite (and anything else): statement by statement, through a session ----------------------
class SessionWriter:
    """A CommitWriter on one SQLAlchemy session per commit."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._session: Session | None = None

    def apply(self, runs: list[list[StageChange]], promotions: int) -> list[list[Applied]]:
        self._session = session = self.db.new_session()
        session.begin()
        applied = []
        for run in runs:
            inserted, already_open = _start(session, [c for c in run if c.starts])
            applied.append(inserted + _advance(session, [c for c in run if not c.starts] + already_open))
        return applied

    def finish(self, rows: Rows, now: datetime) -> list[int]:
        session = self._session
        assert session is not None, "finish() without apply()"
        try:
            if rows.carded:
                session.execute(text("UPDATE visits SET card_sent = TRUE WHERE id IN :ids").bindparams(
                    bindparam("ids", expanding=True)), {"ids": rows.carded})
            if rows.events:
                session.execute(insert(MemberEvent), rows.events)
            if rows.promotions:
                session.execute(insert(PromotionSent), rows.promotions)
            ids: list[int] = []
            if rows.outbox:
                statement = insert(OutboxMessage).returning(OutboxMessage.id, sort_by_parameter_order=True)
                ids = list(session.scalars(statement, [{**r, "relayed_at": IN_FLIGHT} for r in rows.outbox]))
            queue_pushes(session, rows.pushes, now)
            if rows.marks:
                mark_relayed(session.connection(), rows.marks, now, commit=False)
            session.commit()
        finally:
            session.close()
            self._session = None
        return ids

    def abort(self) -> None:
        if self._session is not None:
            self._session.rollback()
            self._session.close()
            self._session = None

    def close(self) -> None:
        self.abort()


def _start(session: Session, starts: Sequence[StageChange]) -> tuple[list[Applied], list[StageChange]]:
    """Insert open visits (ending stale ones first); returns those inserted and the starts that found
    a live visit open."""
    applied: list[Applied] = []
    already_open: list[StageChange] = []
    for c in starts:
        session.execute(update(Visit).where(
            Visit.user_id == c.user_id, Visit.store_id == c.store_id, Visit.left_at.is_(None),
            Visit.updated_at < c.at - STALE_AFTER).values(stage=4, left_at=Visit.updated_at)
            .execution_options(synchronize_session=False))
        statement = sqlite.insert(Visit).values(
            user_id=c.user_id, store_id=c.store_id, stage=int(c.stage), started_at=c.at,
            approaching_at=_stage_at(c, 2), arrived_at=_stage_at(c, 3), updated_at=c.at,
        ).on_conflict_do_nothing(index_elements=["user_id", "store_id"], index_where=Visit.left_at.is_(None))
        visit_id = session.scalar(statement.returning(Visit.id))
        if visit_id is None:
            already_open.append(c)
        else:
            applied.append(Applied(visit_id, c, False))
    return applied, already_open


def _advance(session: Session, changes: Sequence[StageChange]) -> list[Applied]:
    """Move open visits forward to each change's stage; returns the changes that moved one."""
    applied = []
    for c in changes:
        stage = int(c.stage)
        if stage not in _STAGE_COLUMN:
            continue
        statement = update(Visit).where(
            Visit.user_id == c.user_id, Visit.store_id == c.store_id, Visit.left_at.is_(None), Visit.stage < stage,
        ).values({"stage": stage, _STAGE_COLUMN[stage]: c.at, "dwell_s": func.coalesce(c.dwell_s, Visit.dwell_s),
                  "updated_at": c.at}).execution_options(synchronize_session=False)
        row = session.execute(statement.returning(Visit.id, Visit.card_sent)).first()
        if row is not None:
            applied.append(Applied(row[0], c, bool(row[1])))
    return applied
