"""Monthly outlet tiers and rebates, as JSON or CSV."""

import asyncio
from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from lbs_service.analytics import funnel, performance
from lbs_service.analytics.performance import WEEK_PATTERN, PerformanceAsk
from lbs_service.deps import PrincipalDep, ServicesDep
from lbs_service.errors import Forbidden
from lbs_service.fields import INT64_MAX, MONTH_PATTERN
from lbs_service.finder import categories_asked
from lbs_service.o2o.campaigns import owned_campaign, targets
from lbs_service.o2o.rebates import OutletMonth, gradient_from, monthly_report, to_csv
from lbs_service.responses import Funnel, FunnelRates, FunnelStore, PerformanceReport
from lbs_service.routers.params import RowIdPath, parse_bbox, text_query

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


@router.get("/v1/reports/stores/performance", response_model=PerformanceReport)
async def store_performance(
    services: ServicesDep,
    principal: PrincipalDep,
    bbox: Annotated[str, text_query(200, 1, description="min_lng,min_lat,max_lng,max_lat")],
    week: Annotated[str | None, Query(pattern=WEEK_PATTERN, min_length=8, max_length=8,
                                      description="a completed ISO week, YYYY-Www (default: the last one)")] = None,
    merchant_id: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
    category: Annotated[str | None, text_query(600, 1, description="comma-separated")] = None,
) -> PerformanceReport:
    """Visits, redemptions and orders per outlet in an area over one completed week (the planner's
    performance layers). Operators see every outlet; a merchant its own."""
    if principal.role not in ("operator", "merchant"):
        raise Forbidden("outlet performance is for operators and merchants")
    if principal.role == "merchant":
        if principal.merchant_id is None or merchant_id not in (None, principal.merchant_id):
            raise Forbidden("a merchant sees its own outlets")
        merchant_id = principal.merchant_id
    area = parse_bbox(bbox)
    assert area is not None
    k = services.settings.demand_min_users
    start = performance.week_start(week, services.clock())
    ask = PerformanceAsk(area, start, k, merchant_id,
                         tuple(categories_asked(category, services.catalog.categories()) or ()))
    await services.limits.check("coverage", principal.subject)  # priced like a coverage request, one at a time
    slot = services.coverage_gate.reserve(principal.subject)
    try:
        stores = await asyncio.to_thread(performance.store_performance, services.db, services.catalog, ask)
    finally:
        slot.release()
    return PerformanceReport(week=performance.iso_week(start), k=k, stores=stores)


@router.get("/v1/reports/campaigns/{campaign_id}/funnel", response_model=None,
            responses={200: {"model": Funnel, "content": {"text/csv": {}}}})
async def campaign_funnel(services: ServicesDep, principal: PrincipalDep, campaign_id: RowIdPath,
                          format: Literal["json", "csv"] = "json") -> Funnel | Response:
    """Sent, arrived, claimed, redeemed, ordered, reviewed: people, with conversion from sent, for the
    operator or the campaign's merchant; counts of fewer than k people withheld."""
    campaign = await asyncio.to_thread(owned_campaign, services.db, principal, campaign_id)
    catalog = services.catalog

    def participates(store_id: int) -> bool:
        record = catalog.records.get(store_id)
        return record is not None and targets(campaign, record, catalog.district_of(record))

    k = services.settings.demand_min_users
    await services.limits.check("coverage", principal.subject)  # a report over the event log: rate-limited
    rows = await asyncio.to_thread(funnel.funnel, services.db, campaign, k, participates)
    if format == "csv":
        return Response(funnel.to_csv(rows), media_type="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="funnel-{campaign_id}.csv"'})
    whole, *stores = rows
    return Funnel(campaign_id=campaign_id, k=k, **whole.counts, rates=FunnelRates(**whole.rates),
                  by_store=[FunnelStore(store_id=row.store_id, **row.counts, rates=FunnelRates(**row.rates))
                            for row in stores if row.store_id is not None])
