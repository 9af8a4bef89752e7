"""District boundaries imported with `lbs import boundaries`, for maps and filters."""

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy import select

from lbs_service.deps import ServicesDep
from lbs_service.geojson import geojson_response
from lbs_service.storage.models import District

router = APIRouter(tags=["planning"])


@router.get("/v1/districts")
async def list_districts(services: ServicesDep) -> list[dict[str, Any]]:
    def load() -> list[dict[str, Any]]:
        with services.db.session() as session:
            rows = session.execute(select(District.code, District.name, District.city).order_by(District.code))
            return [{"code": code, "name": name, "city": city} for code, name, city in rows]

    return await asyncio.to_thread(load)


GEOJSON_RESPONSE: dict[int | str, dict[str, Any]] = {200: {"content": {"application/geo+json": {}}}}


@router.get("/v1/districts.geojson", response_class=Response, responses=GEOJSON_RESPONSE)
async def districts_geojson(services: ServicesDep) -> Response:
    def load() -> dict[str, Any]:
        with services.db.session() as session:
            features = [{"type": "Feature", "id": d.code, "geometry": d.geometry,
                         "properties": {"code": d.code, "name": d.name, "city": d.city}}
                        for d in session.scalars(select(District).order_by(District.code))]
        return {"type": "FeatureCollection", "features": features}

    return geojson_response(await asyncio.to_thread(load))
