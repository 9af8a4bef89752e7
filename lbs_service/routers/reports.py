"""Monthly outlet tiers and rebates, as JSON or CSV."""

import asyncio
from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from lbs_service.deps import PrincipalDep, ServicesDep
from lbs_service.errors import Forbidden
from lbs_service.fields import MONTH_PATTERN
from lbs_service.o2o.rebates import OutletMonth, gradient_from, monthly_report, to_csv

router = APIRouter(tags=["reports"])


@router.get("/v1/reports/rebates", response_model=None,
            responses={200: {"model": list[OutletMonth], "content": {"text/csv": {}}}})
async def rebates(
    services: ServicesDep,
    principal: PrincipalDep,
    month: Annotated[str, Query(pattern=MONTH_PATTERN, min_length=7, max_length=7, description="YYYY-MM")],
    format: Literal["json", "csv"] = "json",
) -> list[dict[str, Any]] | Response:
    """Operators see every outlet; a merchant sees its own."""
    if principal.role not in ("operator", "merchant"):
        raise Forbidden("rebate reports are for operators and merchants")
    if principal.role == "merchant" and principal.merchant_id is None:  # read_token refuses these; never widen
        raise Forbidden("a merchant token names its merchant")
    scope = principal.merchant_id if principal.role == "merchant" else None
    gradient = gradient_from(services.settings.rebate_gradient)
    rows = await asyncio.to_thread(monthly_report, services.db, month, gradient, scope)
    if format == "csv":
        return Response(to_csv(rows), media_type="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="rebates-{month}.csv"'})
    return [asdict(r) for r in rows]
