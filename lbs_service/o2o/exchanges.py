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
    except (NotFound, Conflict, Forbidden) as error:
        return refusal(error)
    price = campaign.points_price
    coupon = issue(session, campaign_id, user_id, now, source="points")  # refusals from here roll back
    spend(session, user_id, price, "exchange", str(coupon.id), now)
    balance = session.get(PointsBalance, user_id, populate_existing=True)
    return Outcome(201, {"campaign_id": campaign_id, "points_spent": price,
                         "balance": balance.balance if balance is not None else 0,
                         "coupon": {"id": coupon.id, "code": coupon.code}})


def exchange(db: Database, campaign_id: int, user_id: str, key: str | None, now: datetime,
             tiers: dict[str, int]) -> Outcome:
    return run_once(db, f"exchange:{user_id}", key, request_hash(campaign_id),
                    lambda session: _exchange(session, campaign_id, user_id, now, tiers))
