"""Visit rows: starts and stage changes applied in bulk, each decided by the database.

A start inserts an open visit unless one is open already for that (user, store) - then the open one
continues. A stage change applies only to the open visit and only if it moves the stage forward.
Both return the rows they really changed, and only those produce messages: a fix applied twice (a
retry, a worker resumed from an older checkpoint) changes nothing the second time. PostgreSQL gets
one statement per kind (arrays through unnest); SQLite, one per row.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, func, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from lbs_service.proximity.effects import StageChange
from lbs_service.storage.models import Visit

STALE_AFTER = timedelta(hours=2)  # an open visit not updated for this long was abandoned (a lost worker)
_STAGE_COLUMN = {2: "approaching_at", 3: "arrived_at", 4: "left_at"}


@dataclass(frozen=True)
class Applied:
    """A change the database took: the visit it applies to, and whether staff already have its card."""

    visit_id: int
    change: StageChange
    card_sent: bool


def close_stale(session: Session, starts: Sequence[StageChange]) -> None:
    """Open visits of these (user, store) pairs untouched for STALE_AFTER end where they were last seen."""
    for change in starts:  # a handful per batch
        session.execute(update(Visit).where(
            Visit.user_id == change.user_id, Visit.store_id == change.store_id, Visit.left_at.is_(None),
            Visit.updated_at < change.at - STALE_AFTER).values(stage=4, left_at=Visit.updated_at))


def start(session: Session, is_postgres: bool, starts: Sequence[StageChange]) -> tuple[list[Applied],
                                                                                         list[StageChange]]:
    """Insert open visits; returns those inserted and the starts that found a visit already open."""
    if not starts:
        return [], []
    inserted = _insert_pg(session, starts) if is_postgres else _insert_sqlite(session, starts)
    applied = [Applied(inserted[(c.user_id, c.store_id)], c, False) for c in starts
               if (c.user_id, c.store_id) in inserted]
    already_open = [c for c in starts if (c.user_id, c.store_id) not in inserted]
    return applied, already_open


def _stage_at(change: StageChange, stage: int) -> object:
    """When the visit reached `stage`, if this change took it there (a start may jump to arrived)."""
    return change.at if int(change.stage) == stage else None


def _insert_pg(session: Session, starts: Sequence[StageChange]) -> dict[tuple[str, int], int]:
    result = session.execute(text(
        "INSERT INTO visits (user_id, store_id, stage, started_at, approaching_at, arrived_at, updated_at) "
        "SELECT u, s, st, a, ap, ar, a FROM unnest(CAST(:u AS text[]), CAST(:s AS bigint[]), "
        "CAST(:st AS smallint[]), CAST(:a AS timestamptz[]), CAST(:ap AS timestamptz[]), "
        "CAST(:ar AS timestamptz[])) AS x(u, s, st, a, ap, ar) "
        "ON CONFLICT (user_id, store_id) WHERE left_at IS NULL DO NOTHING RETURNING id, user_id, store_id"),
        {"u": [c.user_id for c in starts], "s": [c.store_id for c in starts], "st": [int(c.stage) for c in starts],
         "a": [c.at for c in starts], "ap": [_stage_at(c, 2) for c in starts],
         "ar": [_stage_at(c, 3) for c in starts]})
    return {(u, s): i for i, u, s in result}


def _insert_sqlite(session: Session, starts: Sequence[StageChange]) -> dict[tuple[str, int], int]:
    inserted = {}
    for c in starts:
        statement = sqlite.insert(Visit).values(
            user_id=c.user_id, store_id=c.store_id, stage=int(c.stage), started_at=c.at,
            approaching_at=_stage_at(c, 2), arrived_at=_stage_at(c, 3), updated_at=c.at,
        ).on_conflict_do_nothing(index_elements=["user_id", "store_id"], index_where=Visit.left_at.is_(None))
        visit_id = session.scalar(statement.returning(Visit.id))
        if visit_id is not None:
            inserted[(c.user_id, c.store_id)] = visit_id
    return inserted


def advance(session: Session, is_postgres: bool, changes: Sequence[StageChange]) -> list[Applied]:
    """Move open visits forward to each change's stage; returns the changes that moved one."""
    applied: list[Applied] = []
    for stage in (2, 3, 4):
        batch = [c for c in changes if int(c.stage) == stage]
        if batch:
            applied += (_advance_pg if is_postgres else _advance_sqlite)(session, stage, batch)
    return applied


def _advance_pg(session: Session, stage: int, batch: list[StageChange]) -> list[Applied]:
    column = _STAGE_COLUMN[stage]
    result = session.execute(text(
        f"UPDATE visits SET stage = x.st, {column} = x.a, dwell_s = COALESCE(x.d, visits.dwell_s), updated_at = x.a "
        "FROM unnest(CAST(:u AS text[]), CAST(:s AS bigint[]), CAST(:st AS smallint[]), CAST(:a AS timestamptz[]), "
        "CAST(:d AS float8[])) AS x(u, s, st, a, d) WHERE visits.user_id = x.u AND visits.store_id = x.s "
        "AND visits.left_at IS NULL AND visits.stage < x.st "
        "RETURNING visits.id, visits.user_id, visits.store_id, visits.card_sent"),
        {"u": [c.user_id for c in batch], "s": [c.store_id for c in batch], "st": [stage] * len(batch),
         "a": [c.at for c in batch], "d": [c.dwell_s for c in batch]})
    by_key = {(c.user_id, c.store_id): c for c in batch}
    return [Applied(i, by_key[(u, s)], bool(sent)) for i, u, s, sent in result]


def _advance_sqlite(session: Session, stage: int, batch: list[StageChange]) -> list[Applied]:
    column = _STAGE_COLUMN[stage]
    applied = []
    for c in batch:
        statement = update(Visit).where(
            Visit.user_id == c.user_id, Visit.store_id == c.store_id, Visit.left_at.is_(None), Visit.stage < stage,
        ).values({"stage": stage, column: c.at, "dwell_s": func.coalesce(c.dwell_s, Visit.dwell_s),
                  "updated_at": c.at})
        row = session.execute(statement.returning(Visit.id, Visit.card_sent)).first()
        if row is not None:
            applied.append(Applied(row[0], c, bool(row[1])))
    return applied


def mark_carded(session: Session, visit_ids: Sequence[int]) -> None:
    if visit_ids:
        session.execute(text("UPDATE visits SET card_sent = TRUE WHERE id IN :ids").bindparams(
            bindparam("ids", expanding=True)), {"ids": list(visit_ids)})
