"""Staff answer a visit's card ("we're ready", "coming out with your order"): the answer reaches the
customer's socket (through the outbox, so it survives a worker or Redis restart), or their
phone as a Web Push when the app is closed. Only a visit of
this store that staff were shown a card for can be answered; the answer names the store, never the
staff member."""

from datetime import datetime

from sqlalchemy import select

from lbs_service.errors import NotFound
from lbs_service.outbox.pushes import queue_pushes, reply_notice
from lbs_service.outbox.writer import enqueue
from lbs_service.storage.db import Database
from lbs_service.storage.models import Store, Visit
from push.messages import user_channel


def send_reply(db: Database, store_id: int, visit_id: int, text: str, now: datetime) -> None:
    with db.transaction() as session:
        visit = session.get(Visit, visit_id)
        if visit is None or visit.store_id != store_id or not visit.card_sent:
            raise NotFound(f"no visit {visit_id} with a card at this store")
        store_name = session.scalar(select(Store.name).where(Store.id == store_id))
        enqueue(session, user_channel(visit.user_id), {
            "type": "staff_reply", "ts": now.isoformat(), "store_id": store_id, "store_name": store_name,
            "visit_id": visit_id, "text": text}, subject=visit.user_id)
        # For a customer whose app is closed: a Web Push, unless their socket has it (webpush/sender.py).
        queue_pushes(session, [reply_notice(visit.user_id, store_name or "", visit_id, text)], now)
