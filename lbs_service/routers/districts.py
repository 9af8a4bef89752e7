"""District boundaries imported with `lbs import boundaries`, for maps and filters."""

import asyncio

from fastapi import APIRouter
from fastapi.responses import Response

from lbs_service.analytics.districts import district_features, district_list
from lbs_service.deps import ServicesDep
from lbs_service.geojson import GeoJSONResponse, geojson_response
from lbs_service.responses import DistrictCollection, DistrictPublic

router = APIRouter(tags=["planning"])


@router.get("/v1/districts", response_model=list[DistrictPublic])
async def list_districts(services: ServicesDep) -> list[DistrictPublic]:
    return await asyncio.to_thread(district_list, services.db)


@router.get("/v1/districts.geojson", response_class=GeoJSONResponse, responses={200: {"model": DistrictCollection}})
async def districts_geojson(services: ServicesDep) -> Response:
    return geojson_response(await asyncio.to_thread(district_features, services.db))
