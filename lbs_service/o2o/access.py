"""Who may act for a store: its own staff, its merchant, the operator. One place for the checks the
routes and sockets make, so "staff of this store" is written once."""

from sqlalchemy import select

from lbs_service.auth import Principal, require_role
from lbs_service.errors import Forbidden, NotFound
from lbs_service.storage.db import Database
from lbs_service.storage.models import Store


def acts_for_store(principal: Principal, store_id: int) -> bool:
    """Staff of this store, or the operator."""
    return principal.role == "operator" or (principal.role == "staff" and principal.store_id == store_id)


def require_store_staff(principal: Principal, store_id: int) -> Principal:
    """Staff of this store, or the operator (redemptions, pickups, the console)."""
    staff = require_role(principal, "staff", "operator")
    if not acts_for_store(staff, store_id):
        raise Forbidden("this token is for another store")
    return staff


def merchant_of_store(db: Database, store_id: int) -> int:
    with db.session() as session:
        merchant = session.scalar(select(Store.merchant_id).where(Store.id == store_id))
    if merchant is None:
        raise NotFound(f"no store with id {store_id}")
    return merchant


def may_manage_store(db: Database, principal: Principal, store_id: int) -> None:
    """The store's staff, its merchant or the operator (stock, the pickup queue)."""
    if acts_for_store(principal, store_id):
        return
    if principal.role == "merchant" and principal.merchant_id == merchant_of_store(db, store_id):
        return
    raise Forbidden("this token cannot manage that store")
