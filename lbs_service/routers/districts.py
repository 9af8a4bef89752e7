"""District boundaries imported with `lbs import boundaries`, for maps and filters."""

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from lbs_service.analytics.districts import district_features, district_list
from lbs_service.deps import ServicesDep
from lbs_service.geojson import geojson_response

router = APIRouter(tags=["planning"])


@router.get("/v1/districts")
async def list_districts(services: ServicesDep) -> list[dict[str, Any]]:
    return await asyncio.to_thread(district_list, services.db)


GEOJSON_RESPONSE: dict[int | str, dict[str, Any]] = {200: {"content": {"application/geo+json": {}}}}


@router.get("/v1/districts.geojson", response_class=Response, responses=GEOJSON_RESPONSE)
async def districts_geojson(services: ServicesDep) -> Response:
    return geojson_response(await asyncio.to_thread(district_features, services.db))
