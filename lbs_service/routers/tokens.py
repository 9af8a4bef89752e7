"""Operators revoke tokens: every token of a subject issued until now stops working everywhere
within LBS_REVOCATION_POLL_S (REST at once on the worker that took the request)."""

import asyncio
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from lbs_service.deps import OperatorDep, ServicesDep
from lbs_service.fields import Key, text_field
from lbs_service.responses import Revocation

router = APIRouter(tags=["tokens"])


class RevocationBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    subject: Key
    reason: Annotated[str, text_field(500)] = ""


@router.post("/v1/tokens/revocations", status_code=201, response_model=Revocation)
async def revoke(services: ServicesDep, operator: OperatorDep, body: RevocationBody) -> Revocation:
    """Revoke every token of `subject` issued up to now (a new token issued later works)."""
    revoked_before = await asyncio.to_thread(services.revocations.revoke, body.subject, body.reason,
                                             operator.subject)
    return Revocation(subject=body.subject, revoked_before=revoked_before,
                      effective_everywhere_within_s=services.settings.revocation_poll_s)
