"""GET /v1/coverage and /v1/coverage/gaps: supply (stores) against demand (users), per H3 cell.

Each request is priced before it starts (analytics/coverage_report.py), refused with the figures
when too big, limited per principal (a rate and one at a time) and per worker, and the cells
stream out chunk by chunk: a client that leaves stops the work at the next chunk.
"""

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from lbs_service import metrics
from lbs_service.analytics import coverage_report
from lbs_service.analytics.coverage_report import CoveragePlan, CoverageRequest, CsvWriter, GeoJsonWriter
from lbs_service.analytics.site_names import place_names
from lbs_service.auth import Principal, Role, require_role
from lbs_service.deps import PrincipalDep, ServicesDep
from lbs_service.errors import InvalidInput
from lbs_service.fields import INT64_MAX
from lbs_service.finder import categories_asked
from lbs_service.gate import Slot
from lbs_service.geojson import GEOJSON
from lbs_service.responses import GapsAndSites
from lbs_service.routers.params import numbers, parse_bbox, text_query
from lbs_service.services import Services

router = APIRouter(tags=["planning"])
PLANNING_ROLES: tuple[Role, ...] = ("operator", "merchant")


def _sites(raw: str | None) -> tuple[tuple[float, float], ...]:
    """What-if outlets: "lat,lng;lat,lng" (at most 50)."""
    if not raw:
        return ()
    pairs = raw.split(";")
    if len(pairs) > 50:
        raise InvalidInput("add takes at most 50 sites")
    sites = []
    for pair in pairs:
        values = numbers(pair, "add")
        if len(values) != 2 or not (-90 <= values[0] <= 90 and -180 <= values[1] <= 180):
            raise InvalidInput(f"add: {pair} is not a lat,lng position")
        sites.append((values[0], values[1]))
    return tuple(sites)


async def planning_request(
    services: ServicesDep,
    principal: PrincipalDep,
    district: Annotated[str | None, text_query(600, 1, description="codes, comma-separated")] = None,
    bbox: Annotated[str | None, text_query(200, description="min_lng,min_lat,max_lng,max_lat")] = None,
    res: Annotated[int, Query(ge=8, le=9, description="H3 resolution: 8 or 9")] = 9,
    radius_m: Annotated[float, Query(ge=50, le=10_000, allow_inf_nan=False)] = 1000,
    add: Annotated[str | None, text_query(2000, description="what-if outlets: lat,lng;lat,lng")] = None,
    merchant_id: Annotated[int | None, Query(ge=1, le=INT64_MAX, description="only this merchant's stores "
                                                                          "count as supply")] = None,
    category: Annotated[str | None, text_query(600, 1, description="only stores of these categories count "
                                                                   "(comma-separated)")] = None,
) -> tuple[Principal, CoverageRequest]:
    """The area, resolution, radius and what-if sites both planning endpoints take (planners only)."""
    require_role(principal, *PLANNING_ROLES)
    if (district is None) == (bbox is None):
        raise InvalidInput("give exactly one of district and bbox")
    codes = tuple(c.strip() for c in district.split(",") if c.strip()) if district else ()
    if district is not None and not codes:
        raise InvalidInput("district names at least one code")
    if len(codes) > 50:
        raise InvalidInput("at most 50 districts at once")
    settings = services.settings
    categories = categories_asked(category, services.catalog.categories())
    request = CoverageRequest(codes, parse_bbox(bbox), res, radius_m, settings.demand_retention_days,
                              settings.demand_min_users, _sites(add), merchant_id, tuple(categories or ()))
    return principal, request


PlanningRequest = Annotated[tuple[Principal, CoverageRequest], Depends(planning_request)]


async def _planned(services: Services, principal: Principal, request: CoverageRequest) -> tuple[Slot, CoveragePlan]:
    """Rate limit, a slot, then the priced plan (refused when too big); the caller releases the slot."""
    await services.limits.check("coverage", principal.subject)
    slot = services.coverage_gate.reserve(principal.subject)
    try:
        plan = await asyncio.to_thread(coverage_report.plan, services.db, services.catalog, request,
                                       services.clock(), services.settings.coverage_max_work)
    except BaseException:
        slot.release()
        raise
    return slot, plan


@router.get("/v1/coverage", response_class=StreamingResponse,
            responses={200: {"content": {GEOJSON: {}, "text/csv": {}}}})
async def get_coverage(services: ServicesDep, planning: PlanningRequest,
                       format: Literal["geojson", "csv"] = "geojson") -> StreamingResponse:
    """Cells of a district or a bbox with nearest_m, stores_within, covered and demand (distinct users,
    suppressed below k), streamed."""
    slot, plan = await _planned(services, *planning)
    writer = CsvWriter(plan) if format == "csv" else GeoJsonWriter(plan)

    def measured(cells: Any) -> bytes:
        return writer.chunk(plan.measure(cells))

    async def body() -> AsyncIterator[bytes]:
        try:
            yield writer.head()
            for chunk in plan.chunks():
                yield await asyncio.to_thread(measured, chunk)
                metrics.count("lbs_coverage_chunks_total")
            yield writer.tail()
        finally:
            slot.release()

    return StreamingResponse(body(), media_type="text/csv" if format == "csv" else GEOJSON)


@router.get("/v1/coverage/gaps", response_model=GapsAndSites)
async def get_gaps(
    services: ServicesDep,
    planning: PlanningRequest,
    top: Annotated[int, Query(ge=1, le=1000)] = 50,
    suggest: Annotated[int, Query(ge=0, le=50)] = 5,
) -> GapsAndSites:
    """Uncovered cells ranked by demand, greedy site suggestions, and demand covered (with `add`: what if)."""
    slot, plan = await _planned(services, *planning)
    try:
        found = await asyncio.to_thread(coverage_report.gaps_and_sites, plan, top, suggest)
        names = await asyncio.to_thread(place_names, services.db, services.catalog,
                                        [(s.lat, s.lng) for s in found.suggestions])
    finally:
        slot.release()
    found.suggestions = [s.model_copy(update={"name": n.name, "district": n.district, "near_store": n.near_store,
                                              "near_m": n.near_m}) for s, n in zip(found.suggestions, names,
                                                                                   strict=True)]
    return found
