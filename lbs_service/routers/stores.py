"""Store finder (nearby, details) and the operators' store registry."""

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from geo_index import Datum, convert, parse_datum
from lbs_service.deps import OperatorDep, OptionalPrincipalDep, ServicesDep
from lbs_service.errors import InvalidInput
from lbs_service.fields import INT64_MAX
from lbs_service.geojson import GeoJSONResponse, geojson_response, store_feature
from lbs_service.o2o.stock import stock_of
from lbs_service.postgis_nearby import nearby_postgis
from lbs_service.records import StoreRecord, record_of
from lbs_service.responses import StoreCollection, StoreFeature
from lbs_service.routers.params import StoreIdPath, text_query
from lbs_service.schemas import StoreCreate, StoreUpdate

router = APIRouter(prefix="/v1/stores", tags=["stores"])

CrsParam = Annotated[Literal["wgs84", "gcj02", "bd09"], Query(description="datum of inputs and outputs")]


def _categories(raw: str | None, known: list[str]) -> list[str] | None:
    """The categories asked for; an unknown one is a 422 that lists the known ones (a typo must not
    look like "no stores here")."""
    if raw is None:
        return None
    names = [c.strip() for c in raw.split(",") if c.strip()]
    if not names:
        raise InvalidInput("category must name at least one category")
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise InvalidInput(f"unknown category {', '.join(unknown)}; known: {', '.join(known) or 'none yet'}")
    return names


@router.get("/nearby", response_class=GeoJSONResponse, responses={200: {"model": StoreCollection}})
async def nearby(
    request: Request,
    services: ServicesDep,
    principal: OptionalPrincipalDep,
    lat: Annotated[float, Query(ge=-90, le=90, allow_inf_nan=False)],
    lng: Annotated[float, Query(ge=-180, le=180, allow_inf_nan=False)],
    radius_m: Annotated[float, Query(ge=1, le=50_000, allow_inf_nan=False)] = 1000,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
    category: Annotated[str | None, text_query(1000, description="comma-separated")] = None,
    open_now: Annotated[bool | None, Query(description="true: only stores open now by their published hours "
                                                       "(stores without published hours are left out)")] = None,
    crs: CrsParam = "wgs84",
    engine: Annotated[Literal["memory", "postgis"], Query(
        description="postgis: the cross-check engine in the database (rate-limited per client)")] = "memory",
    sku: Annotated[int | None, Query(ge=1, le=INT64_MAX, description="only stores with this SKU in stock")] = None,
) -> Response:
    """Stores within radius_m of a point, nearest first, with great-circle distances."""
    datum = parse_datum(crs)
    qlat, qlng = convert(lat, lng, datum, Datum.WGS84)
    categories = _categories(category, services.catalog.categories())
    now = services.clock()
    in_stock = None if sku is None else await asyncio.to_thread(stock_of, services.db, sku)
    keep = _filter(now if open_now else None, in_stock)
    if engine == "memory":
        hits, matched = services.catalog.nearby(qlat, qlng, radius_m, limit, categories, keep)
        pairs = [(h.record, h.distance_m) for h in hits]
    else:
        if not services.db.is_postgres:
            raise InvalidInput("engine=postgis needs LBS_DATABASE_URL to point at PostGIS")
        # The cross-check engine runs in the database everyone shares. Operators (the cross-check, the
        # benchmarks) are bounded by the statement timeout alone (postgis_nearby.py); everyone else gets a rate,
        # one request at a time and two per worker. Anonymous clients are told apart by their address.
        slot = None
        if principal is None or principal.role != "operator":
            client = principal.subject if principal is not None else \
                f"ip:{request.client.host if request.client else '-'}"
            await services.limits.check("postgis", client)
            slot = services.postgis_gate.reserve(client)
        try:
            if keep is None:  # the database counts and ships only the first `limit`
                pairs, matched = await asyncio.to_thread(nearby_postgis, services.db, qlat, qlng, radius_m,
                                                         categories, limit)
            else:  # hours and stock are decided here, so every candidate comes back
                rows, _ = await asyncio.to_thread(nearby_postgis, services.db, qlat, qlng, radius_m, categories)
                rows = [(r, d) for r, d in rows if keep(r)]
                matched, pairs = len(rows), rows[:limit]
        finally:
            if slot is not None:
                slot.release()
    if matched == 0 and principal is not None and principal.role == "user":
        services.demand.saw(principal.subject, qlat, qlng, now)  # a search that found nothing is unmet demand
    features = [store_feature(record, datum, now, distance) for record, distance in pairs]
    if in_stock is not None:
        for feature, (record, _) in zip(features, pairs, strict=True):
            feature["properties"]["quantity"] = in_stock[record.id]
    body = {
        "type": "FeatureCollection",
        "features": features,
        "numberMatched": matched,
        "numberReturned": len(features),
    }
    return geojson_response(body)


def _filter(open_at: datetime | None, in_stock: dict[int, int] | None) -> Callable[[StoreRecord], bool] | None:
    """The extra conditions a store must meet, or None when there are none (the fast path)."""
    if open_at is None and in_stock is None:
        return None

    def keep(record: StoreRecord) -> bool:
        return (open_at is None or record.open_at(open_at)) and (in_stock is None or record.id in in_stock)

    return keep


def _to_wgs84(fields: dict[str, Any], crs: str) -> dict[str, Any]:
    if "lat" in fields or "lng" in fields:
        if "lat" not in fields or "lng" not in fields:
            raise InvalidInput("lat and lng change together")
        fields["lat"], fields["lng"] = convert(fields["lat"], fields["lng"], parse_datum(crs), Datum.WGS84)
    return fields


@router.get("/{store_id}", response_class=GeoJSONResponse, responses={200: {"model": StoreFeature}})
async def get_store(services: ServicesDep, store_id: StoreIdPath, crs: CrsParam = "wgs84") -> Response:
    row = await asyncio.to_thread(services.stores.get, store_id)
    return geojson_response(store_feature(record_of(row), parse_datum(crs), services.clock()))


@router.post("", response_class=GeoJSONResponse, status_code=201,
             responses={201: {"model": StoreFeature}})
async def create_store(services: ServicesDep, _: OperatorDep, body: StoreCreate) -> Response:
    fields = _to_wgs84(body.model_dump(exclude={"merchant", "crs"}), body.crs)
    row = await asyncio.to_thread(services.stores.create, body.merchant, fields)
    await services.catalog.refresh()  # read-your-writes on this worker; others follow the feed
    return geojson_response(store_feature(record_of(row), Datum.WGS84, services.clock()), 201)


@router.patch("/{store_id}", response_class=GeoJSONResponse, responses={200: {"model": StoreFeature}})
async def update_store(services: ServicesDep, _: OperatorDep, store_id: StoreIdPath, body: StoreUpdate) -> Response:
    fields = _to_wgs84(body.model_dump(exclude={"crs"}, exclude_unset=True), body.crs)
    if any(value is None for key, value in fields.items() if key not in ("address", "phone", "hours")):
        raise InvalidInput("only address, phone and hours can be cleared with null")
    row = await asyncio.to_thread(services.stores.update, store_id, fields)
    await services.catalog.refresh()
    return geojson_response(store_feature(record_of(row), Datum.WGS84, services.clock()))


@router.delete("/{store_id}", status_code=204, response_class=Response)
async def delete_store(services: ServicesDep, _: OperatorDep, store_id: StoreIdPath) -> Response:
    await asyncio.to_thread(services.stores.delete, store_id)
    await services.catalog.refresh()
    return Response(status_code=204)
