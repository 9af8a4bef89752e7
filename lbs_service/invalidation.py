"""What changed, told to every worker after the commit that changed it.

Workers cache what proximity decisions read (a customer's consent, coupons, orders and tiers;
the running campaigns). A transaction that changes any of it marks its session here; after the
commit every worker drops that part of its cache (services wire `on_commit` to a broadcast). Code
that writes never has to remember to tell anyone: the write is enough.
"""

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

_CUSTOMERS = "lbs.touched_customers"
_CAMPAIGNS = "lbs.touched_campaigns"
CUSTOMER, CAMPAIGNS = "customer", "campaigns"


def touch_customer(session: Session, user_id: str) -> None:
    session.info.setdefault(_CUSTOMERS, set()).add(user_id)


def touch_campaigns(session: Session) -> None:
    session.info[_CAMPAIGNS] = True


def changes_of(session: Session) -> list[dict[str, Any]]:
    """The control messages a committed session owes (and forget them)."""
    messages: list[dict[str, Any]] = [{"kind": CUSTOMER, "user_id": user} for user in
                                      sorted(session.info.pop(_CUSTOMERS, ()))]
    if session.info.pop(_CAMPAIGNS, False):
        messages.append({"kind": CAMPAIGNS})
    return messages


def forget_changes(session: Session) -> None:
    """A rolled-back session owes nothing."""
    session.info.pop(_CUSTOMERS, None)
    session.info.pop(_CAMPAIGNS, None)


Announce = Callable[[list[dict[str, Any]]], None]
