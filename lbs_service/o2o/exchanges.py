"""Points spent on coupons: a campaign with a points price sells its coupon for that many points.

One transaction takes the coupon (budget, one per member, the audience) and the points (a
conditional decrement: concurrent exchanges cannot overdraw); either refusing rolls both back.
An Idempotency-Key answers a retry with the first outcome.
"""

from datetime import datetime

from sqlalchemy.orm import Session

from lbs_service.errors import Conflict, Forbidden, NotFound
from lbs_service.o2o.audiences import require_audience
from lbs_service.o2o.coupons import issue
from lbs_service.o2o.idempotency import Outcome, refusal, request_hash, run_once
from lbs_service.o2o.points import spend
from lbs_service.storage.db import Database
from lbs_service.storage.models import Campaign, PointsBalance


def _exchange(session: Session, campaign_id: int, user_id: str, now: datetime, tiers: dict[str, int]) -> Outcome:
    campaign = session.get(Campaign, campaign_id)
    try:
        if campaign is None:
            raise NotFound(f"no campaign with id {campaign_id}")
        if campaign.points_price is None:
            raise Conflict("this campaign's coupon is claimed, not exchanged for points")
        require_audience(session, campaign.audience, user_id, now, tiers)
        balance = session.get(PointsBalance, user_id)
        if (balance.balance if balance is not None else 0) < campaign.points_price:
            raise Conflict(f"this needs {campaign.points_price} points; you have fewer")
    except (NotFound, Conflict, Forbidden) as error:
        return refusal(error)  # stored: a retry with the key is refused alike
    price = campaign.points_price
    # Refusals from here on (a race lost to a concurrent claim or exchange) roll everything back.
    coupon = issue(session, campaign_id, user_id, now, source="points")
    spend(session, user_id, price, "exchange", str(coupon.id), now)
    balance = session.get(PointsBalance, user_id, populate_existing=True)
    return Outcome(201, {"campaign_id": campaign_id, "points_spent": price,
                         "balance": balance.balance if balance is not None else 0,
                         "coupon": {"id": coupon.id, "code": coupon.code}})


def exchange(db: Database, campaign_id: int, user_id: str, key: str | None, now: datetime,
             tiers: dict[str, int]) -> Outcome:
    return run_once(db, f"exchange:{user_id}", key, request_hash(campaign_id),
                    lambda session: _exchange(session, campaign_id, user_id, now, tiers))
