"""GeoJSON (RFC 7946) for stores: [lng, lat] in the datum the request asked for."""

from datetime import datetime
from typing import Any

import orjson
from fastapi.responses import JSONResponse, Response

from geo_index import Datum, convert
from lbs_service.records import StoreRecord

GEOJSON = "application/geo+json"


def point(lat: float, lng: float, crs: Datum) -> dict[str, Any]:
    out_lat, out_lng = convert(lat, lng, Datum.WGS84, crs)
    return {"type": "Point", "coordinates": [out_lng, out_lat]}


def store_feature(record: StoreRecord, crs: Datum, now: datetime, distance_m: float | None = None) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "name": record.name,
        "category": record.category,
        "source_id": record.source_id,
        "merchant_id": record.merchant_id,
        "address": record.address,
        "phone": record.phone,
        "status": record.status,
        "hours": record.hours,
        "timezone": record.timezone,
        "open_now": record.open_state(now),  # null: the store publishes no hours
        "rating": record.rating,
    }
    if distance_m is not None:
        properties = {"distance_m": distance_m, **properties}
    return {
        "type": "Feature",
        "id": str(record.id),
        "geometry": point(record.lat, record.lng, crs),
        "properties": properties,
    }


class GeoJSONResponse(JSONResponse):
    """A JSON body served as application/geo+json; as a route's response_class, it files the
    documented schema under that media type."""

    media_type = GEOJSON

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def geojson_response(body: dict[str, Any], status_code: int = 200) -> Response:
    return GeoJSONResponse(body, status_code=status_code)
