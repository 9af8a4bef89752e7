"""A user's location data: what we hold about where they have been, to export it or erase it.

Held: the visit state (the recent accepted fixes, the stores near them and their visits' stages,
expiring after LBS_FIX_RETENTION_S), visit rows and the member events that exist only because of a
fix, the promotions pushed because they were near a store, the messages about them on their own
channel and on stores' consoles (outbox rows and the streams' copies), the Web Push copies of
them (sent or owed; the browser's subscription stays: it is not location data), and demand rows (a salted
hash per res-9 cell and day). Coupons, orders and reviews are transactions the user made, not
location data, and stay.

Erasure reaches everything, everywhere: every worker forgets what it holds live (a broadcast), the
commits already in flight are let land, then the database rows, the checkpoint and the streams'
copies go. What the user's open socket sends after that is new data.
"""

import asyncio
from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Delete, delete, func, select
from sqlalchemy.orm import Session

from geo_index.visits import VisitState
from lbs_service.analytics.demand import DemandRecorder
from lbs_service.responses import (
    FenceState,
    HeldFix,
    HeldVisit,
    LocationData,
    LocationEvent,
    PromotionRow,
    VisitRow,
    WebPushRow,
    stage_name,
)
from lbs_service.storage.db import Database
from lbs_service.storage.models import (
    DemandCell,
    MemberEvent,
    OutboxMessage,
    PromotionSent,
    Visit,
    WebPushDelivery,
)
from push.messages import user_channel

if TYPE_CHECKING:
    from lbs_service.services import Services

LOCATION_EVENTS = ("arrival", "visit", "visit_end")  # member events that exist only because of a fix
ERASE_GRACE_S = 1.0  # longer than a group commit takes: effects queued before the erase have landed


def fence_summary(state: VisitState | None) -> FenceState | None:
    if state is None:
        return None
    fixes = [HeldFix(lat=f.lat, lng=f.lng, ts=f.ts, accuracy_m=f.accuracy_m) for f in state.recent]
    return FenceState(recent_fixes=fixes, visits=[
        HeldVisit(store_id=int(store), stage=stage_name(int(stage)))
        for store, stage in zip(state.ids.tolist(), state.stage.tolist(), strict=True) if stage > 0])


def location_data(db: Database, demand: DemandRecorder, user_id: str, state: VisitState | None,
                  fix_retention_s: int) -> LocationData:
    """What the export shows: the worker's fence state for the user and every stored row."""
    with db.session() as session:
        visits = session.scalars(select(Visit).where(Visit.user_id == user_id).order_by(Visit.id)).all()
        events = session.scalars(select(MemberEvent).where(
            MemberEvent.user_id == user_id, MemberEvent.kind.in_(LOCATION_EVENTS)).order_by(MemberEvent.id)).all()
        promotions = session.scalars(select(PromotionSent).where(PromotionSent.user_id == user_id)
                                     .order_by(PromotionSent.id)).all()
        demand_rows = session.execute(select(DemandCell.day, func.count()).where(
            DemandCell.user_hash == demand.user_hash(user_id, remember=False)).group_by(DemandCell.day)
            .order_by(DemandCell.day)).all()
        messages = session.scalar(select(func.count()).where(OutboxMessage.subject == user_id))
        pushes = session.scalars(select(WebPushDelivery).where(WebPushDelivery.user_id == user_id)
                                 .order_by(WebPushDelivery.id)).all()
    return LocationData(
        user_id=user_id,
        fix_retention_s=fix_retention_s,
        fence_state=fence_summary(state),
        visits=[VisitRow(id=v.id, store_id=v.store_id, stage=stage_name(v.stage), started_at=v.started_at.isoformat(),
                         arrived_at=_iso(v.arrived_at), left_at=_iso(v.left_at), dwell_s=v.dwell_s) for v in visits],
        arrivals=[LocationEvent(store_id=e.store_id, kind=e.kind, at=e.at.isoformat(), data=e.data) for e in events],
        promotions=[PromotionRow(store_id=p.store_id, campaign_id=p.campaign_id, sent_at=p.sent_at.isoformat())
                    for p in promotions],
        messages_about_you=int(messages or 0),
        web_pushes=[WebPushRow(kind=p.kind, title=str(p.payload.get("title", "")), body=str(p.payload.get("body", "")),
                               state=p.state, created_at=p.created_at.isoformat()) for p in pushes],
        demand_cells_by_day={day: count for day, count in demand_rows},
    )


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def delete_location_rows(db: Database, demand: DemandRecorder, user_id: str
                         ) -> tuple[dict[str, int], dict[str, list[int]]]:
    """Delete the rows; returns how many of each went, and the stream copies to delete (channel -> ids)."""
    demand.forget(user_id)
    with db.transaction() as session:
        copies: dict[str, list[int]] = defaultdict(list)
        for channel, stream_id in session.execute(select(OutboxMessage.channel, OutboxMessage.stream_id).where(
                OutboxMessage.subject == user_id, OutboxMessage.stream_id.is_not(None))):
            if stream_id is not None:
                copies[channel].append(int(stream_id))
        deleted = {
            "visits": _deleted(session, delete(Visit).where(Visit.user_id == user_id)),
            "arrivals": _deleted(session, delete(MemberEvent).where(
                MemberEvent.user_id == user_id, MemberEvent.kind.in_(LOCATION_EVENTS))),
            "promotions": _deleted(session, delete(PromotionSent).where(PromotionSent.user_id == user_id)),
            "demand_cells": _deleted(session, delete(DemandCell).where(
                DemandCell.user_hash == demand.user_hash(user_id, remember=False))),
            "messages": _deleted(session, delete(OutboxMessage).where(OutboxMessage.subject == user_id)),
            # Web Push copies of offers (store and distance) and answers, sent or still owed.
            "push_deliveries": _deleted(session, delete(WebPushDelivery).where(WebPushDelivery.user_id == user_id)),
        }
    return deleted, dict(copies)


def _deleted(session: Session, statement: Delete) -> int:
    return int(session.execute(statement).rowcount)  # type: ignore[attr-defined]


async def erase(services: "Services", user_id: str) -> dict[str, int]:
    """Everything, everywhere (see the module docstring); returns what went."""
    services.engine.forget(user_id)
    await services.hub.broadcast({"kind": "erase", "user_id": user_id})
    await asyncio.sleep(ERASE_GRACE_S)
    services.engine.forget(user_id)  # anything this worker queued meanwhile
    await services.engine.fences.forget(user_id)
    deleted, copies = await asyncio.to_thread(delete_location_rows, services.db, services.demand, user_id)
    removed = 0
    for channel, ids in copies.items():
        removed += await services.hub.broker.delete(channel, ids)
    await services.hub.broker.drop_channel(user_channel(user_id))
    return {"fence_state": 1, **deleted, "stream_copies": removed}
