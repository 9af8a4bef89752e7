"""Web Push deliveries owed, written in the transaction of the message they carry.

Beside a user's socket message (an offer, a staff answer, an order ready for pickup) goes one
delivery row per push subscription the user has: so a push exists exactly when its cause
committed, survives any restart, and is sent by whichever worker claims it (webpush/sender.py),
which first checks whether the user's socket already had it. A user without subscriptions costs
one index probe. The payload is what the notification shows - store name, offer title, distance
rounded - and nothing more: no position, no token, no code.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, literal, select
from sqlalchemy.orm import Session

from lbs_service.statuses import PushKind, PushState
from lbs_service.storage.db import Database
from lbs_service.storage.models import PushSubscription, WebPushDelivery

WROTE_PUSHES = "lbs.wrote_pushes"  # a flag in Session.info: the sender wakes on that commit


@dataclass(frozen=True)
class Notice:
    """One notification for one user, for each of their subscriptions."""

    user_id: str
    kind: PushKind
    payload: dict[str, Any]  # title, body, url, tag: what the service worker shows
    topic: str  # RFC 8030: a newer push with the same topic replaces an undelivered older one
    urgency: str  # RFC 8030: very-low | low | normal | high


def rounded_distance(metres: float) -> str:
    """"350 m", "1.2 km": what a person needs, no more precise than that."""
    tens = max(10, round(metres / 10) * 10)
    return f"{tens} m" if tens < 1000 else f"{metres / 1000:.1f} km"


def offer_notice(user_id: str, store_id: int, store_name: str, title: str, distance_m: float) -> Notice:
    # One topic for every offer: a newer offer replaces an older one the phone has not shown yet.
    return Notice(user_id, PushKind.OFFER, {
        "title": store_name, "body": f"{title} · {rounded_distance(distance_m)}",
        "url": f"/?offer={store_id}", "tag": "offer"}, "offer", "normal")


def reply_notice(user_id: str, store_name: str, visit_id: int, text: str) -> Notice:
    return Notice(user_id, PushKind.REPLY, {"title": store_name, "body": text, "url": "/", "tag": f"visit-{visit_id}"},
                  f"visit-{visit_id}", "high")


def order_ready_notice(user_id: str, store_name: str, order_id: int) -> Notice:
    return Notice(user_id, PushKind.ORDER, {
        "title": store_name, "body": "Your order is ready for pickup", "url": "/", "tag": f"order-{order_id}"},
        f"order-{order_id}", "high")


def queue_pushes(session: Session, notices: list[Notice], now: datetime) -> None:
    """One pending delivery per (notice, subscription of its user), in the caller's transaction."""
    columns = ["subscription_id", "user_id", "kind", "payload", "topic", "urgency", "created_at", "due_at",
               "attempts", "state"]
    for notice in notices:
        rows = select(PushSubscription.id, PushSubscription.user_id, literal(notice.kind.value),
                      literal(notice.payload, WebPushDelivery.payload.type), literal(notice.topic),
                      literal(notice.urgency), literal(now, WebPushDelivery.created_at.type),
                      literal(now, WebPushDelivery.due_at.type), literal(0), literal(PushState.PENDING.value)
                      ).where(PushSubscription.user_id == notice.user_id)
        session.execute(insert(WebPushDelivery).from_select(columns, rows))
    if notices:
        session.info[WROTE_PUSHES] = True


# The committer's form (psycopg, inside its pipelined transaction): the same rows for many notices
# in one statement. Parameters: now (created and due), and the notices as one JSON document of
# objects with u (user), k (kind), p (payload), t (topic), r (urgency).
QUEUE_MANY_SQL = (
    "INSERT INTO webpush_deliveries (subscription_id, user_id, kind, payload, topic, urgency, created_at, due_at, "
    "attempts, state) SELECT s.id, x.u, x.k, x.p, x.t, x.r, %(now)s, %(now)s, 0, 'pending' FROM "
    "json_to_recordset(%(pushes)s::json) AS x(u varchar, k varchar, p json, t varchar, r varchar) "
    "JOIN push_subscriptions s ON s.user_id = x.u")


def prune_finished(db: Database, keep_s: float, now: datetime) -> int:
    """Delete deliveries finished more than `keep_s` ago (what was sent, dropped, expired or failed)."""
    with db.transaction() as session:
        gone = session.execute(delete(WebPushDelivery).where(WebPushDelivery.state != PushState.PENDING,
                                                             WebPushDelivery.finished_at < now - timedelta(
                                                                 seconds=keep_s)))
        return int(gone.rowcount)  # type: ignore[attr-defined]
