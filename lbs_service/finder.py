"""Nearby search as the API answers it: what was asked, in which datum, with which filters, and the
GeoJSON body, written once here for the framework route and for the fast lane alike."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from geo_index import Datum, convert
from lbs_service.analytics.demand import DemandRecorder
from lbs_service.catalog import StoreCatalog
from lbs_service.errors import InvalidInput
from lbs_service.geojson import FeatureWriter
from lbs_service.records import StoreRecord

FEATURES = FeatureWriter()


@dataclass(frozen=True)
class NearbyAsk:
    """A validated nearby question (the HTTP layer checked the bounds)."""

    lat: float
    lng: float
    radius_m: float
    limit: int
    category: str | None
    open_now: bool
    datum: Datum


def categories_asked(raw: str | None, known: list[str]) -> list[str] | None:
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


def in_wgs84(ask: NearbyAsk) -> tuple[float, float]:
    return convert(ask.lat, ask.lng, ask.datum, Datum.WGS84)


def store_filter(open_at: datetime | None, in_stock: dict[int, int] | None) -> Callable[[StoreRecord], bool] | None:
    """The extra conditions a store must meet, or None when there are none (the fast path)."""
    if open_at is None and in_stock is None:
        return None

    def keep(record: StoreRecord) -> bool:
        return (open_at is None or record.open_at(open_at)) and (in_stock is None or record.id in in_stock)

    return keep


def search_memory(catalog: StoreCatalog, ask: NearbyAsk, now: datetime, in_stock: dict[int, int] | None = None
                  ) -> tuple[list[tuple[StoreRecord, float]], int]:
    """The worker's exact in-memory search: the first `limit` stores and how many matched in all."""
    categories = categories_asked(ask.category, catalog.categories())
    lat, lng = in_wgs84(ask)
    return catalog.nearby(lat, lng, ask.radius_m, ask.limit, categories,
                          store_filter(now if ask.open_now else None, in_stock))


def note_unmet_demand(demand: DemandRecorder, user: str | None, ask: NearbyAsk, matched: int, now: datetime) -> None:
    """A signed-in user's search that found nothing is demand nobody serves (the planner's gaps)."""
    if matched == 0 and user is not None:
        lat, lng = in_wgs84(ask)
        demand.saw(user, lat, lng, now)


def answer_body(pairs: list[tuple[StoreRecord, float]], matched: int, datum: Datum, now: datetime,
                in_stock: dict[int, int] | None = None) -> bytes:
    """The FeatureCollection: stores nearest first, positions in the asked datum."""
    return FEATURES.collection(pairs, matched, datum, now, in_stock)
