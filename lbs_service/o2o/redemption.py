"""Redeeming a coupon in a store: exactly once, whatever the concurrency, and safe to retry.

Once: a conditional update (claimed -> redeemed) that only one transaction can win, plus a
unique redemption row per coupon. Retries: an Idempotency-Key answers a retry with the first
outcome (o2o/idempotency.py). With a basket, the answer shows the offer's discount on it; a basket
below the offer's minimum spend - or none, for an offer with a minimum - is refused and the coupon
stays unspent.
"""

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lbs_service.errors import InvalidInput
from lbs_service.o2o.campaigns import targets
from lbs_service.o2o.idempotency import Outcome, problem_outcome, refusal, request_hash, run_once
from lbs_service.o2o.members import record_event
from lbs_service.o2o.offers import discount_cents, offer_of
from lbs_service.o2o.points import earn
from lbs_service.o2o.qr import looks_like_qr, read_qr_token
from lbs_service.records import StoreRecord
from lbs_service.settings import SigningSettings
from lbs_service.statuses import CouponStatus
from lbs_service.storage.db import Database
from lbs_service.storage.models import Campaign, Coupon, Redemption


def _find_coupon(session: Session, settings: SigningSettings, code: str) -> Coupon | Outcome:
    if looks_like_qr(code):
        try:
            coupon_id, holder = read_qr_token(settings, code, "coupon")
        except InvalidInput as error:
            return problem_outcome(422, "Invalid code", error.detail)
        coupon = session.get(Coupon, coupon_id)
        if coupon is None or coupon.user_id != holder:
            return problem_outcome(404, "Not found", "no such coupon")
        return coupon
    coupon = session.scalar(select(Coupon).where(Coupon.code == code.strip().upper()))
    return coupon if coupon is not None else problem_outcome(404, "Not found", "no coupon has this code")


def _redeem(session: Session, settings: SigningSettings, store: StoreRecord, district: str | None, staff: str,
            code: str, basket_cents: int | None, points: int, now: datetime) -> Outcome:
    found = _find_coupon(session, settings, code)
    if isinstance(found, Outcome):
        return found
    campaign = session.get(Campaign, found.campaign_id)
    assert campaign is not None
    if not targets(campaign, store, district):
        return problem_outcome(403, "Forbidden", f"this coupon is not valid at store {store.id}")
    if campaign.ends_at <= now:
        return problem_outcome(409, "Conflict", "this coupon has expired")
    if found.status != CouponStatus.CLAIMED:
        return problem_outcome(409, "Conflict", "this coupon has already been redeemed")
    offer = offer_of(campaign.offer)
    discount = None
    if offer is not None and offer.min_spend_cents and basket_cents is None:
        return problem_outcome(422, "Invalid input", f"this offer needs a basket of at least "
                                                     f"{offer.min_spend_cents} cents: send basket_cents")
    if offer is not None and basket_cents is not None:
        try:
            discount = discount_cents(offer, basket_cents)
        except InvalidInput as error:
            return refusal(error)
    won = session.execute(
        update(Coupon).where(Coupon.id == found.id, Coupon.status == CouponStatus.CLAIMED)
        .values(status=CouponStatus.REDEEMED, redeemed_at=now)
    ).rowcount  # type: ignore[attr-defined]
    if won != 1:
        return problem_outcome(409, "Conflict", "this coupon has already been redeemed")
    session.add(Redemption(coupon_id=found.id, store_id=store.id, staff=staff, redeemed_at=now))
    record_event(session, found.user_id, "redeem", store.id, {"coupon_id": found.id, "campaign_id": campaign.id},
                 now)
    earn(session, found.user_id, points, "redemption", str(found.id), now)
    return Outcome(200, {"status": "redeemed", "coupon_id": found.id, "campaign_id": campaign.id,
                         "title": campaign.title, "store_id": store.id, "redeemed_at": now.isoformat(),
                         "offer": offer.as_json() if offer else None, "basket_cents": basket_cents,
                         "discount_cents": discount,
                         "pay_cents": None if discount is None or basket_cents is None else basket_cents - discount})


def redeem(db: Database, settings: SigningSettings, store: StoreRecord, district: str | None, staff: str, code: str,
           basket_cents: int | None, key: str | None, now: datetime, points: int) -> Outcome:
    """Redeem once (the member earns `points`)."""
    return run_once(db, f"redeem:{store.id}:{staff}", key, request_hash(store.id, code, basket_cents),
                    lambda session: _redeem(session, settings, store, district, staff, code, basket_cents, points,
                                            now))
