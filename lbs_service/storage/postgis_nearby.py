"""The `engine=postgis` path: the exact sphere query in the database, used to cross-check the
in-memory engine and to benchmark against. ST_DWithin and ST_Distance with use_spheroid=false
work on the same sphere as geo_index."""

from collections.abc import Sequence

from geoalchemy2 import Geography
from sqlalchemy import func, literal_column, select

from lbs_service.records import StoreRecord, record_of
from lbs_service.storage.db import Database
from lbs_service.storage.models import Store


def nearby_postgis(
    db: Database, lat: float, lng: float, radius_m: float, categories: Sequence[str] | None
) -> list[tuple[StoreRecord, float]]:
    """Every open store within radius_m, nearest first (ties by id), with its distance."""
    geog = literal_column("stores.geog", Geography(geometry_type="POINT", srid=4326))
    here = func.ST_SetSRID(func.ST_MakePoint(lng, lat), 4326).cast(Geography(srid=4326))
    distance = func.ST_Distance(geog, here, False).label("distance_m")
    query = (
        select(Store, distance)
        .where(Store.status == "open", func.ST_DWithin(geog, here, radius_m, False))
        .order_by(distance, Store.id)
    )
    if categories is not None:
        query = query.where(Store.category.in_(list(categories)))
    with db.session() as session:
        rows = session.execute(query).all()
    return [(record_of(store), float(d)) for store, d in rows if d <= radius_m]
