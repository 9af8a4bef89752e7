"""The `engine=postgis` path: the exact sphere query in the database, used to cross-check the
in-memory engine and to benchmark against. ST_DWithin and ST_Distance with use_spheroid=false
work on the same sphere as geo_index."""

from collections.abc import Sequence

from geoalchemy2 import Geography
from sqlalchemy import func, select, text

from lbs_service.records import StoreRecord, record_of
from lbs_service.storage.db import Database
from lbs_service.storage.models import Store

STATEMENT_TIMEOUT_MS = 3000


def nearby_postgis(
    db: Database, lat: float, lng: float, radius_m: float, categories: Sequence[str] | None, limit: int | None = None
) -> tuple[list[tuple[StoreRecord, float]], int]:
    """Open stores within radius_m, nearest first (ties by id), with distances: the first `limit` of them
    (all when None) and how many there are in all, counted by the database rather than shipped."""
    here = func.ST_SetSRID(func.ST_MakePoint(lng, lat), 4326).cast(Geography(srid=4326))
    distance = func.ST_Distance(Store.geog, here, False).label("distance_m")
    query = (
        select(Store, distance, func.count().over().label("matched"))
        # ST_DWithin picks candidates through the index; the distance test makes the edge agree with the sphere.
        .where(Store.status == "open", func.ST_DWithin(Store.geog, here, radius_m, False), distance <= radius_m)
        .order_by(distance, Store.id)
    )
    if categories is not None:
        query = query.where(Store.category.in_(list(categories)))
    if limit is not None:
        query = query.limit(limit)
    with db.transaction() as session:
        # A cross-check query must not pin the database: past the timeout it is cancelled (a 503, retry).
        session.execute(text(f"SET LOCAL statement_timeout = {int(STATEMENT_TIMEOUT_MS)}"))
        rows = session.execute(query).all()
    matched = int(rows[0].matched) if rows else 0
    return [(record_of(store), float(d)) for store, d, _ in rows], matched
