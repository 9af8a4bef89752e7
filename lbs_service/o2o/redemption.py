"""Redeeming a coupon in a store: exactly once, whatever the concurrency, and safe to retry.

Once: a conditional update (claimed -> redeemed) that only one transaction can win, plus a
unique redemption row per coupon. Retries: with an Idempotency-Key, the first request's outcome
(success or refusal) is stored in the same transaction, and the same key returns it again; the
same key with another body is a 422; the same key twice at once runs once (the second waits on
the unique key, then reads the stored outcome).
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lbs_service.errors import InvalidInput
from lbs_service.o2o.campaigns import targets
from lbs_service.o2o.members import record_event
from lbs_service.o2o.qr import looks_like_qr, read_qr_token
from lbs_service.records import StoreRecord
from lbs_service.settings import SigningSettings
from lbs_service.statuses import CouponStatus
from lbs_service.storage.db import Database
from lbs_service.storage.models import Campaign, Coupon, IdempotencyRecord, Redemption


@dataclass(frozen=True)
class Outcome:
    status: int
    body: dict[str, Any]  # the success body, or a problem's fields


def _problem(status: int, title: str, detail: str) -> Outcome:
    return Outcome(status, {"type": "about:blank", "status": status, "title": title, "detail": detail})


def request_hash(store_id: int, code: str) -> str:
    return hashlib.sha256(json.dumps([store_id, code]).encode()).hexdigest()


def _find_coupon(session: Session, settings: SigningSettings, code: str) -> Coupon | Outcome:
    if looks_like_qr(code):
        try:
            coupon_id, holder = read_qr_token(settings, code, "coupon")
        except InvalidInput as error:
            return _problem(422, "Invalid code", error.detail)
        coupon = session.get(Coupon, coupon_id)
        if coupon is None or coupon.user_id != holder:
            return _problem(404, "Not found", "no such coupon")
        return coupon
    coupon = session.scalar(select(Coupon).where(Coupon.code == code.strip().upper()))
    return coupon if coupon is not None else _problem(404, "Not found", "no coupon has this code")


def _redeem(session: Session, settings: SigningSettings, store: StoreRecord, district: str | None, staff: str,
            code: str, now: datetime) -> Outcome:
    found = _find_coupon(session, settings, code)
    if isinstance(found, Outcome):
        return found
    campaign = session.get(Campaign, found.campaign_id)
    assert campaign is not None
    if not targets(campaign, store, district):
        return _problem(403, "Forbidden", f"this coupon is not valid at store {store.id}")
    if campaign.ends_at <= now:
        return _problem(409, "Conflict", "this coupon has expired")
    won = session.execute(
        update(Coupon).where(Coupon.id == found.id, Coupon.status == CouponStatus.CLAIMED)
        .values(status=CouponStatus.REDEEMED, redeemed_at=now)
    ).rowcount  # type: ignore[attr-defined]
    if won != 1:
        return _problem(409, "Conflict", "this coupon has already been redeemed")
    session.add(Redemption(coupon_id=found.id, store_id=store.id, staff=staff, redeemed_at=now))
    record_event(session, found.user_id, "redeem", store.id, {"coupon_id": found.id, "campaign_id": campaign.id},
                 now)
    return Outcome(200, {"status": "redeemed", "coupon_id": found.id, "campaign_id": campaign.id,
                         "title": campaign.title, "store_id": store.id, "redeemed_at": now.isoformat()})


def redeem(db: Database, settings: SigningSettings, store: StoreRecord, district: str | None, staff: str, code: str,
           key: str | None, now: datetime) -> Outcome:
    if key is None:
        with db.transaction() as session:
            return _redeem(session, settings, store, district, staff, code, now)
    scope, digest = f"redeem:{store.id}:{staff}", request_hash(store.id, code)
    try:
        with db.transaction() as session:
            record = IdempotencyRecord(scope=scope, key=key, request_hash=digest, status_code=0, response={})
            session.add(record)
            session.flush()  # takes the key (and waits for a concurrent holder of it)
            outcome = _redeem(session, settings, store, district, staff, code, now)
            record.status_code, record.response = outcome.status, outcome.body
            return outcome
    except IntegrityError:
        pass
    with db.session() as session:
        earlier = session.scalar(select(IdempotencyRecord).where(IdempotencyRecord.scope == scope,
                                                                 IdempotencyRecord.key == key))
    if earlier is None:
        return _problem(409, "Conflict", "a request with this Idempotency-Key is in progress; retry")
    if earlier.request_hash != digest:
        return _problem(422, "Invalid request", "this Idempotency-Key was used with a different request")
    return Outcome(earlier.status_code, earlier.response)
