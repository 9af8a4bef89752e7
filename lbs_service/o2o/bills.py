"""Utility bills (water, electricity, gas) paid at an outlet, recorded by its staff.

The customer's account reference is never stored: only a keyed hash of it (HMAC with a key
derived from the service secret, over the reference with spaces and case folded away), enough
to tell that two payments were for the same account and nothing that would give the account
back. A retry with the same Idempotency-Key records nothing more (o2o/idempotency.py).
"""

import hashlib
import hmac
from datetime import datetime

from sqlalchemy.orm import Session

from lbs_service.o2o.idempotency import Outcome, problem_outcome, request_hash, run_once
from lbs_service.records import StoreRecord, utilities_of
from lbs_service.settings import SigningSettings
from lbs_service.storage.db import Database
from lbs_service.storage.models import BillPayment, Store


def account_hash(settings: SigningSettings, account_ref: str) -> str:
    key = hmac.new(settings.secret_key.encode(), b"bills:account-ref", hashlib.sha256).digest()
    folded = "".join(account_ref.split()).upper()
    return hmac.new(key, folded.encode(), hashlib.sha256).hexdigest()


def _record(session: Session, store: StoreRecord, staff: str, utility: str, hashed_ref: str, amount_cents: int,
            now: datetime) -> Outcome:
    row = session.get(Store, store.id)
    taken = utilities_of((row.attributes or {}).get("utilities")) if row is not None else None
    if taken is not None and utility not in taken:
        return problem_outcome(422, "Invalid input", f"store {store.id} does not take {utility} bills")
    payment = BillPayment(store_id=store.id, staff=staff, utility=utility,
                          account_hash=hashed_ref, amount_cents=amount_cents, paid_at=now)
    session.add(payment)
    session.flush()
    return Outcome(201, {"id": payment.id, "store_id": store.id, "utility": utility, "amount_cents": amount_cents,
                         "paid_at": now.isoformat()})


def record_bill_payment(db: Database, settings: SigningSettings, store: StoreRecord, staff: str, utility: str,
                        account_ref: str, amount_cents: int, key: str | None, now: datetime) -> Outcome:
    hashed_ref = account_hash(settings, account_ref)
    return run_once(db, f"bill:{store.id}:{staff}", key, request_hash(store.id, utility, hashed_ref, amount_cents),
                    lambda session: _record(session, store, staff, utility, hashed_ref, amount_cents, now))
