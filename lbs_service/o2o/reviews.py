"""Reviews only after the member's own visit (a redemption or a pickup at that store), one per visit.

The store's running rating lives on the store row and goes through the change feed, so every
worker shows it in nearby answers without asking the database per request.
"""

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lbs_service.errors import Conflict, Forbidden
from lbs_service.o2o.members import record_event
from lbs_service.o2o.points import earn
from lbs_service.responses import ReviewPublic
from lbs_service.statuses import OrderStatus, VisitKind
from lbs_service.storage.db import Database
from lbs_service.storage.models import Coupon, Order, Redemption, Review, Store, StoreChange


def _visits(session: Session, user_id: str, store_id: int) -> list[tuple[VisitKind, int]]:
    """The member's visits to this store, oldest first: ("redemption", id) and ("pickup", order id)."""
    redeemed = session.execute(
        select(Redemption.id, Redemption.redeemed_at).join(Coupon, Coupon.id == Redemption.coupon_id)
        .where(Coupon.user_id == user_id, Redemption.store_id == store_id)).all()
    picked = session.execute(select(Order.id, Order.picked_up_at).where(
        Order.user_id == user_id, Order.store_id == store_id, Order.status == OrderStatus.PICKED_UP)).all()
    visits = [(VisitKind.REDEMPTION, i, at) for i, at in redeemed] + [
        (VisitKind.PICKUP, i, at) for i, at in picked if at is not None]
    return [(kind, i) for kind, i, _ in sorted(visits, key=lambda v: v[2])]


def write_review(db: Database, user_id: str, store_id: int, rating: int, text: str,
                 now: datetime, points: int = 0) -> ReviewPublic:
    try:
        with db.transaction() as session:
            rows = session.execute(select(Review.visit_kind, Review.visit_id).where(
                Review.user_id == user_id, Review.store_id == store_id)).all()
            reviewed = {(kind, visit) for kind, visit in rows}
            open_visits = [v for v in _visits(session, user_id, store_id) if v not in reviewed]
            if not open_visits:
                has_any = bool(_visits(session, user_id, store_id))
                raise Conflict("every visit here is reviewed already") if has_any else Forbidden(
                    "reviews come after your own visit: a coupon redeemed or an order picked up here")
            kind, visit_id = open_visits[0]
            review = Review(user_id=user_id, store_id=store_id, visit_kind=kind, visit_id=visit_id, rating=rating,
                            text=text, created_at=now)
            session.add(review)
            session.execute(update(Store).where(Store.id == store_id).values(
                rating_count=Store.rating_count + 1, rating_sum=Store.rating_sum + rating))
            session.add(StoreChange(store_id=store_id))  # workers refresh the store's rating
            record_event(session, user_id, "review", store_id, {"rating": rating, "visit": kind}, now)
            session.flush()
            earn(session, user_id, points, "review", str(review.id), now)
            return ReviewPublic(id=review.id, store_id=store_id, rating=rating, text=text, visit_kind=kind)
    except IntegrityError:
        raise Conflict("this visit is already reviewed") from None
