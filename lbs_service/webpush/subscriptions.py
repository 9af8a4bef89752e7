"""A user's Web Push subscriptions: one per browser, as PushSubscription.toJSON() gives it.

The endpoint must pass the allow-list (endpoints.py) and the keys must be what RFC 8291 needs - a
P-256 point and a 16-byte secret - or the subscription is refused before anything is stored, and
nothing is ever fetched. Subscribing the same browser again updates its keys and keeps its id. A
user has at most MAX_PER_USER; the list shows each one's push service, never the endpoint (a
capability URL: whoever holds it can push to that browser).
"""

import base64
from datetime import UTC, datetime
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import IntegrityError

from lbs_service.errors import Conflict, InvalidInput, NotFound
from lbs_service.responses import PushSubscriptionList, PushSubscriptionPublic
from lbs_service.storage.db import Database
from lbs_service.storage.models import PushSubscription, WebPushDelivery
from lbs_service.webpush.endpoints import AllowedHost, endpoint_refusal

MAX_PER_USER = 10


def _b64url_bytes(text: str, what: str) -> bytes:
    """Base64url, padded or not (browsers send it unpadded); any other character is refused."""
    unpadded = text.rstrip("=")
    try:
        return base64.b64decode(unpadded + "=" * (-len(unpadded) % 4), altchars=b"-_", validate=True)
    except ValueError as error:
        raise InvalidInput(f"keys.{what} is base64url") from error


def check_keys(p256dh: str, auth: str) -> None:
    point = _b64url_bytes(p256dh, "p256dh")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError as error:
        raise InvalidInput("keys.p256dh is not a P-256 public key") from error
    if len(point) != 65:
        raise InvalidInput("keys.p256dh is an uncompressed P-256 point (65 bytes)")
    if len(_b64url_bytes(auth, "auth")) != 16:
        raise InvalidInput("keys.auth is a 16-byte secret")


def subscribe(db: Database, allowed: tuple[AllowedHost, ...], user_id: str, endpoint: str, p256dh: str, auth: str,
              expiration_ms: int | None, now: datetime) -> int:
    refusal = endpoint_refusal(endpoint, allowed)
    if refusal is not None:
        raise InvalidInput(refusal)
    check_keys(p256dh, auth)
    expires_at = None if expiration_ms is None else datetime.fromtimestamp(expiration_ms / 1000, UTC)
    for attempt in range(2):  # the same browser subscribing twice at once: the second finds the first
        try:
            return _store(db, user_id, endpoint, p256dh, auth, expires_at, now)
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


def _store(db: Database, user_id: str, endpoint: str, p256dh: str, auth: str, expires_at: datetime | None,
           now: datetime) -> int:
    with db.transaction() as session:
        if db.is_postgres:  # one subscribing browser of this user at a time: the cap holds under concurrency
            session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:user))"), {"user": f"push:{user_id}"})
        found = session.scalar(select(PushSubscription).where(PushSubscription.user_id == user_id,
                                                              PushSubscription.endpoint == endpoint))
        if found is not None:
            found.p256dh, found.auth, found.expires_at = p256dh, auth, expires_at
            return found.id
        # Inserted first, counted after: on SQLite the write takes the database's write lock, so a
        # concurrent subscriber counts this row (or waits until it is rolled back).
        row = PushSubscription(user_id=user_id, endpoint=endpoint, p256dh=p256dh, auth=auth, expires_at=expires_at,
                               created_at=now)
        session.add(row)
        session.flush()
        held = session.scalar(select(func.count()).select_from(PushSubscription)
                              .where(PushSubscription.user_id == user_id)) or 0
        if held > MAX_PER_USER:
            raise Conflict(f"at most {MAX_PER_USER} push subscriptions per user: delete one first")
        return row.id

def list_subscriptions(db: Database, user_id: str) -> PushSubscriptionList:
    with db.session() as session:
        rows = session.scalars(select(PushSubscription).where(PushSubscription.user_id == user_id)
                               .order_by(PushSubscription.id)).all()
    return PushSubscriptionList(subscriptions=[
        PushSubscriptionPublic(id=r.id, push_service=urlsplit(r.endpoint).hostname or "",
                               created_at=r.created_at.isoformat(),
                               expires_at=None if r.expires_at is None else r.expires_at.isoformat()) for r in rows])


def unsubscribe(db: Database, user_id: str, subscription_id: int) -> None:
    """Delete one of the user's subscriptions, and what was still owed to it."""
    with db.transaction() as session:
        owned = session.scalar(select(PushSubscription.id).where(PushSubscription.id == subscription_id,
                                                                  PushSubscription.user_id == user_id))
        if owned is None:
            raise NotFound(f"no push subscription {subscription_id} of yours")
        session.execute(delete(WebPushDelivery).where(WebPushDelivery.subscription_id == subscription_id))
        session.execute(delete(PushSubscription).where(PushSubscription.id == subscription_id))

