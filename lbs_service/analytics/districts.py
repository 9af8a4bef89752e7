"""District boundaries (imported with `lbs import boundaries`) as the maps and filters read them."""

from typing import Any

from sqlalchemy import select

from lbs_service.responses import DistrictPublic
from lbs_service.storage.db import Database
from lbs_service.storage.models import District


def district_list(db: Database) -> list[DistrictPublic]:
    with db.session() as session:
        rows = session.execute(select(District.code, District.name, District.city).order_by(District.code))
        return [DistrictPublic(code=code, name=name, city=city) for code, name, city in rows]


def district_features(db: Database) -> dict[str, Any]:
    """Every district as a GeoJSON feature collection."""
    with db.session() as session:
        features = [{"type": "Feature", "id": d.code, "geometry": d.geometry,
                     "properties": {"code": d.code, "name": d.name, "city": d.city}}
                    for d in session.scalars(select(District).order_by(District.code))]
    return {"type": "FeatureCollection", "features": features}
