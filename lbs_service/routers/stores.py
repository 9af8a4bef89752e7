"""Store finder (nearby, details) and the operators' store registry."""

import asyncio
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from geo_index import Datum, convert, parse_datum
from lbs_service.auth import Principal
from lbs_service.deps import OperatorDep, OptionalPrincipalDep, ServicesDep
from lbs_service.errors import InvalidInput
from lbs_service.finder import (
    Found,
    NearbyAsk,
    answer_body,
    categories_asked,
    cursor_after,
    in_wgs84,
    next_href,
    note_unmet_demand,
    query_words,
    read_cursor,
    search_memory,
    store_filter,
)
from lbs_service.geojson import GEOJSON, GeoJSONResponse, geojson_response, store_feature
from lbs_service.o2o.stock import stock_of
from lbs_service.postgis_nearby import nearby_postgis
from lbs_service.records import following, record_of
from lbs_service.responses import StoreCollection, StoreFeature
from lbs_service.routers.params import (
    CategoryQuery,
    CrsQuery,
    CursorQuery,
    EngineQuery,
    LatQuery,
    LimitQuery,
    LngQuery,
    OpenNowQuery,
    RadiusQuery,
    SearchQuery,
    SkuQuery,
    StoreIdPath,
)
from lbs_service.schemas import StoreCreate, StoreUpdate
from lbs_service.services import Services

router = APIRouter(prefix="/v1/stores", tags=["stores"])


@router.get("/nearby", response_class=GeoJSONResponse, responses={200: {"model": StoreCollection}})
async def nearby(
    request: Request,
    services: ServicesDep,
    principal: OptionalPrincipalDep,
    lat: LatQuery,
    lng: LngQuery,
    radius_m: RadiusQuery = 1000,
    limit: LimitQuery = 20,
    category: CategoryQuery = None,
    open_now: OpenNowQuery = None,
    crs: CrsQuery = "wgs84",
    engine: EngineQuery = "memory",
    sku: SkuQuery = None,
    q: SearchQuery = None,
    cursor: CursorQuery = None,
) -> Response:
    """Stores within radius_m of a point, nearest first, with great-circle distances.

    The common question (engine=memory, no sku) is usually answered by the fast lane (nearby_lane.py)
    before it reaches this route, with the same body; this route answers everything else."""
    ask = NearbyAsk(lat, lng, radius_m, limit, category, bool(open_now), parse_datum(crs), q, read_cursor(cursor))
    now = services.clock()
    user = principal.subject if principal is not None and principal.role == "user" else None
    in_stock = None if sku is None else await asyncio.to_thread(stock_of, services.db, sku)
    if engine == "memory":
        found = search_memory(services.catalog, ask, now, in_stock)
    else:
        found = await _postgis(request, services, principal, ask, now, in_stock)
    note_unmet_demand(services.demand, user, ask, found.matched, now)
    after = cursor_after(found)
    link = None if after is None else next_href(request.url.path, list(request.query_params.items()), after)
    return Response(answer_body(found, ask.datum, now, link, in_stock), media_type=GEOJSON)


async def _postgis(request: Request, services: Services, principal: Principal | None, ask: NearbyAsk,
                   now: datetime, in_stock: dict[int, int] | None) -> Found:
    """The cross-check engine, in the database everyone shares. Operators (the cross-check, the
    benchmarks) are bounded by the statement timeout alone (postgis_nearby.py); everyone else gets a
    rate, one request at a time and two per worker. Anonymous clients are told apart by their address."""
    if not services.db.is_postgres:
        raise InvalidInput("engine=postgis needs LBS_DATABASE_URL to point at PostGIS")
    categories = categories_asked(ask.category, services.catalog.categories())
    qlat, qlng = in_wgs84(ask)
    keep = store_filter(now if ask.open_now else None, in_stock, query_words(ask.q))
    slot = None
    if principal is None or principal.role != "operator":
        client = principal.subject if principal is not None else f"ip:{request.client.host if request.client else '-'}"
        await services.limits.check("postgis", client)
        slot = services.postgis_gate.reserve(client)
    try:
        if keep is None and ask.after is None:  # the database counts and ships only the first page (and one)
            pairs, matched = await asyncio.to_thread(nearby_postgis, services.db, qlat, qlng, ask.radius_m,
                                                     categories, ask.limit + 1)
            return Found.of(pairs, matched, ask.limit)
        # hours, stock, words and pages are decided here (as in memory): every candidate comes back
        rows, _ = await asyncio.to_thread(nearby_postgis, services.db, qlat, qlng, ask.radius_m, categories)
        kept = rows if keep is None else [(r, d) for r, d in rows if keep(r)]
        return Found.of(following(kept, ask.after)[:ask.limit + 1], len(kept), ask.limit)
    finally:
        if slot is not None:
            slot.release()


def _to_wgs84(fields: dict[str, Any], crs: str) -> dict[str, Any]:
    if "lat" in fields or "lng" in fields:
        if "lat" not in fields or "lng" not in fields:
            raise InvalidInput("lat and lng change together")
        fields["lat"], fields["lng"] = convert(fields["lat"], fields["lng"], parse_datum(crs), Datum.WGS84)
    return fields


@router.get("/{store_id}", response_class=GeoJSONResponse, responses={200: {"model": StoreFeature}})
async def get_store(services: ServicesDep, store_id: StoreIdPath, crs: CrsQuery = "wgs84") -> Response:
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
