"""GeoJSON (RFC 7946) for stores: [lng, lat] in the datum the request asked for."""

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from fastapi.responses import JSONResponse, Response

from geo_index import Datum, convert
from lbs_service.hours import LocalTime, Spans, local_time, open_during
from lbs_service.records import StoreRecord
from lbs_service.statuses import StoreStatus

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
    if record.utilities is not None:
        properties["utilities"] = list(record.utilities)
    if distance_m is not None:
        properties = {"distance_m": distance_m, **properties}
    return {
        "type": "Feature",
        "id": str(record.id),
        "geometry": point(record.lat, record.lng, crs),
        "properties": properties,
    }


@dataclass(frozen=True, slots=True)
class _Kept:
    """A store's feature parts that do not change between answers, in one datum."""

    record: StoreRecord
    head: bytes  # {"type":"Feature","id":..,"geometry":..,"properties":{
    middle: bytes  # "name":.. through "timezone":..
    tail: bytes  # ,"rating":..
    hours: Spans | None  # None: closed for good (open_now false); empty: no published hours (null)


class FeatureWriter:
    """Store features written straight to JSON bytes, the same bytes `orjson.dumps(store_feature(...))`
    gives (same keys, same order).

    What does not change between answers (id, position in a datum, name ... time zone, rating) is
    serialised once per (store, datum) and kept until the store's record is replaced; an answer
    writes only its distances and "open now". Bounded: past `capacity` entries per datum, the oldest go.
    """

    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._kept: dict[Datum, OrderedDict[int, _Kept]] = {datum: OrderedDict() for datum in Datum}

    def _keep(self, record: StoreRecord, crs: Datum) -> _Kept:
        kept = self._kept[crs]
        head = orjson.dumps({"type": "Feature", "id": str(record.id), "geometry": point(record.lat, record.lng, crs)})
        middle = orjson.dumps({"name": record.name, "category": record.category, "source_id": record.source_id,
                               "merchant_id": record.merchant_id, "address": record.address, "phone": record.phone,
                               "status": record.status, "hours": record.hours, "timezone": record.timezone})
        tail = b',"rating":' + orjson.dumps(record.rating)
        if record.utilities is not None:
            tail += b',"utilities":' + orjson.dumps(list(record.utilities))
        entry = _Kept(record, head[:-1] + b',"properties":{"distance_m":', b"," + middle[1:-1] + b',"open_now":',
                      tail,
                      record.spans if record.status == StoreStatus.OPEN else None)
        if record.id not in kept and len(kept) >= self.capacity:
            kept.popitem(last=False)
        kept[record.id] = entry
        return entry

    def collection(self, found: list[tuple[StoreRecord, float]], matched: int, crs: Datum, at: datetime,
                   quantities: dict[int, int] | None = None, next_link: str | None = None) -> bytes:
        """A FeatureCollection of (store, metres) with "open now" at `at`, and how many matched in all:
        the hot path of nearby, one loop over the kept parts (each time zone's local time worked out once)."""
        parts = [b'{"type":"FeatureCollection","features":[']
        kept, dumps = self._kept[crs], orjson.dumps
        local: dict[ZoneInfo, LocalTime] = {}
        for record, distance_m in found:
            entry = kept.get(record.id)
            if entry is None or entry.record is not record:
                entry = self._keep(record, crs)
            hours = entry.hours
            if hours is None:
                open_now = b"false"
            elif not hours:
                open_now = b"null"
            else:
                when = local.get(record.zone)
                if when is None:
                    when = local[record.zone] = local_time(record.zone, at)
                open_now = b"true" if open_during(hours, when) else b"false"
            parts += (entry.head, dumps(distance_m), entry.middle, open_now, entry.tail)
            if quantities is not None:
                parts += (b',"quantity":', dumps(quantities[record.id]))
            parts.append(b"}},")
        if found:
            parts[-1] = b"}}"
        parts += (b'],"numberMatched":', str(matched).encode(), b',"numberReturned":', str(len(found)).encode())
        if next_link is not None:
            parts += (b',"links":', orjson.dumps([{"rel": "next", "type": GEOJSON, "href": next_link}]))
        parts.append(b"}")
        return b"".join(parts)


class GeoJSONResponse(JSONResponse):
    """A JSON body served as application/geo+json; as a route's response_class, it files the
    documented schema under that media type."""

    media_type = GEOJSON

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def geojson_response(body: dict[str, Any], status_code: int = 200) -> Response:
    return GeoJSONResponse(body, status_code=status_code)
