"""GET /v1/coverage: supply (stores) against demand (users), per H3 cell, for planners."""

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from lbs_service.analytics.coverage_report import (
    CoverageRequest,
    cell_rows,
    compute,
    gaps_and_sites,
    to_csv,
    to_geojson,
)
from lbs_service.auth import require_role
from lbs_service.deps import PrincipalDep, ServicesDep
from lbs_service.errors import InvalidInput
from lbs_service.geojson import geojson_response

router = APIRouter(tags=["planning"])


def _bbox(raw: str | None) -> tuple[float, float, float, float] | None:
    if raw is None:
        return None
    try:
        values = [float(v) for v in raw.split(",")]
    except ValueError:
        raise InvalidInput("bbox is four numbers: min_lng,min_lat,max_lng,max_lat") from None
    if len(values) != 4 or any(v != v or abs(v) == float("inf") for v in values):
        raise InvalidInput("bbox is four finite numbers: min_lng,min_lat,max_lng,max_lat")
    min_lng, min_lat, max_lng, max_lat = values
    if not (-180 <= min_lng <= 180 and -180 <= max_lng <= 180 and -90 <= min_lat <= 90 and -90 <= max_lat <= 90):
        raise InvalidInput("bbox is out of range")
    return min_lng, min_lat, max_lng, max_lat


def _sites(raw: str | None) -> tuple[tuple[float, float], ...]:
    """What-if outlets: "lat,lng;lat,lng" (at most 50)."""
    if not raw:
        return ()
    sites = []
    for pair in raw.split(";"):
        try:
            lat, lng = (float(v) for v in pair.split(","))
        except ValueError:
            raise InvalidInput("add is lat,lng;lat,lng ...") from None
        if not (-90 <= lat <= 90 and -180 <= lng <= 180):
            raise InvalidInput(f"add: {pair} is not a position")
        sites.append((lat, lng))
    if len(sites) > 50:
        raise InvalidInput("add takes at most 50 sites")
    return tuple(sites)


async def planning_request(
    services: ServicesDep,
    principal: PrincipalDep,
    district: Annotated[str | None, Query(min_length=1, max_length=600, description="codes, comma-separated")] = None,
    bbox: Annotated[str | None, Query(max_length=200, description="min_lng,min_lat,max_lng,max_lat")] = None,
    res: Annotated[int, Query(ge=8, le=9, description="H3 resolution: 8 or 9")] = 9,
    radius_m: Annotated[float, Query(ge=50, le=10_000, allow_inf_nan=False)] = 1000,
    add: Annotated[str | None, Query(max_length=2000, description="what-if outlets: lat,lng;lat,lng")] = None,
) -> CoverageRequest:
    """The area, resolution, radius and what-if sites both planning endpoints take (planners only)."""
    require_role(principal, "operator", "merchant")
    if (district is None) == (bbox is None):
        raise InvalidInput("give exactly one of district and bbox")
    codes = tuple(c.strip() for c in district.split(",") if c.strip()) if district else ()
    if district is not None and not codes:
        raise InvalidInput("district names at least one code")
    settings = services.settings
    return CoverageRequest(codes, _bbox(bbox), res, radius_m, settings.demand_retention_days,
                           settings.demand_min_users, _sites(add))


PlanningRequest = Annotated[CoverageRequest, Depends(planning_request)]


@router.get("/v1/coverage", response_model=None, responses={200: {"content": {"application/geo+json": {}}}})
async def get_coverage(
    services: ServicesDep, request: PlanningRequest, format: Literal["geojson", "csv"] = "geojson"
) -> Response:
    """Cells of a district or a bbox with nearest_m, stores_within, covered and demand (distinct users,
    suppressed below k)."""

    def build() -> Any:
        result, demand = compute(services.db, services.catalog, request)
        rows = cell_rows(result, demand)
        return to_csv(rows) if format == "csv" else to_geojson(rows, request)

    body = await asyncio.to_thread(build)
    if format == "csv":
        return Response(body, media_type="text/csv")
    return geojson_response(body)


@router.get("/v1/coverage/gaps")
async def get_gaps(
    services: ServicesDep,
    request: PlanningRequest,
    top: Annotated[int, Query(ge=1, le=1000)] = 50,
    suggest: Annotated[int, Query(ge=0, le=50)] = 5,
) -> dict[str, Any]:
    """Uncovered cells ranked by demand, greedy site suggestions, and demand covered (with `add`: what if)."""

    def build() -> dict[str, Any]:
        result, demand = compute(services.db, services.catalog, request)
        return gaps_and_sites(result, demand, request.radius_m, top, suggest)

    return await asyncio.to_thread(build)

