"""Utility bills paid at an outlet, recorded by its staff (o2o/bills.py)."""

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from lbs_service.deps import PrincipalDep, ServicesDep
from lbs_service.errors import NotFound
from lbs_service.fields import MAX_CENTS
from lbs_service.o2o.access import require_store_staff
from lbs_service.o2o.bills import record_bill_payment
from lbs_service.responses import BillPaymentRecorded
from lbs_service.routers.outcomes import outcome_response
from lbs_service.routers.params import IdempotencyKeyHeader, StoreIdPath

router = APIRouter(tags=["bills"])


class BillPaymentBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    utility: Literal["water", "electricity", "gas"]
    account_ref: Annotated[str, Field(min_length=1, max_length=64, pattern="^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$",
                                      description="the customer's account with the utility (kept only as a keyed "
                                                  "hash; spaces and case do not count)")]
    amount_cents: Annotated[int, Field(ge=1, le=MAX_CENTS)]


@router.post("/v1/stores/{store_id}/bill-payments", status_code=201, response_model=None,
             responses={201: {"model": BillPaymentRecorded}})
async def pay_bill(services: ServicesDep, principal: PrincipalDep, store_id: StoreIdPath, body: BillPaymentBody,
                   idempotency_key: IdempotencyKeyHeader = None) -> Response:
    """Staff of this store record a bill paid at the counter; it counts toward the outlet's rebate."""
    staff = require_store_staff(principal, store_id)
    await services.limits.check("redeem", staff.subject)
    store = services.catalog.records.get(store_id)
    if store is None:
        raise NotFound(f"no open store with id {store_id}")
    outcome = await asyncio.to_thread(record_bill_payment, services.db, services.settings, store, staff.subject,
                                      body.utility, body.account_ref, body.amount_cents, idempotency_key,
                                      services.clock())
    return outcome_response(outcome)
