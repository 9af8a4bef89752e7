"""What staff see about an arriving customer: a pseudonym and, from the O2O flow, the context to prepare.

The pseudonym is an HMAC of (store, user) under the server's secret: stable for one store, so a
returning customer is recognisable there, but unlinkable across stores and never the user id.
"""

import hashlib
import hmac
from typing import Any

from sqlalchemy.orm import Session


def user_ref(secret: str, store_id: int, user_id: str) -> str:
    digest = hmac.new(secret.encode(), f"{store_id}:{user_id}".encode(), hashlib.sha256).hexdigest()
    return f"u-{digest[:12]}"


def arrival_context(session: Session, user_id: str, store_id: int) -> dict[str, Any]:
    """Member tier, coupons claimed for this store and pickup orders waiting.

    The O2O flow (campaign claims, orders, member tiers) fills these from its tables; until it
    exists there is nothing to show, and the console shows the fields empty rather than invented.
    """
    return {"tier": None, "coupons": [], "orders": []}
