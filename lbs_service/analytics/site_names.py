"""Names a person can act on for a point on the map (a suggested site): the street of the nearest
store's address and the district it lies in - "Hexi Road, Demo district 4" - rather than bare
coordinates. Streets come from the imported stores' addresses (the only street data the service
holds), districts from the imported boundaries.
"""

import re
from dataclasses import dataclass

from sqlalchemy import select

from lbs_service.catalog import StoreCatalog
from lbs_service.storage.db import Database
from lbs_service.storage.models import District

NEAR_M = 1000.0  # a store further than this says nothing about where the point is
_HOUSE_NUMBER = re.compile(r"^\s*(No\.?\s*)?\d+[\w-]*\s+", re.IGNORECASE)  # "541 Hexi Road" -> "Hexi Road"
_CJK_NUMBER = re.compile(r"\d.*$")  # "中山路123号" -> "中山路"


@dataclass(frozen=True)
class PlaceName:
    name: str
    street: str | None
    district: str | None
    near_store: str | None
    near_m: float | None


def street_of(address: str | None) -> str | None:
    """The street part of an address: the first comma-separated part without its house number."""
    if not address:
        return None
    first = re.split(r"[,，]", address)[0].strip()
    street = _HOUSE_NUMBER.sub("", first)
    if street == first and re.search(r"[\u4e00-\u9fff]", first):
        street = _CJK_NUMBER.sub("", first)
    street = street.strip()
    return street if re.search(r"[^\W\d_]", street) else None  # a bare number names no street


def place_names(db: Database, catalog: StoreCatalog, points: list[tuple[float, float]]) -> list[PlaceName]:
    """A name for each (lat, lng): districts found through the catalogue's district index (the one
    region campaigns use), their names read for those codes only."""
    if not points:
        return []
    codes = [catalog.regions.region_of(lat, lng) for lat, lng in points]
    with db.session() as session:
        district_names = dict(session.execute(select(District.code, District.name).where(
            District.code.in_({c for c in codes if c is not None}))).all())
    names = []
    for (lat, lng), code in zip(points, codes, strict=True):
        district = district_names.get(code) if code is not None else None
        nearest, _ = catalog.nearby(lat, lng, NEAR_M, 1)
        store, metres = nearest[0] if nearest else (None, None)
        street = street_of(store.address) if store is not None else None
        first = street or (f"near {store.name}" if store is not None else None)
        parts = [p for p in (first, district) if p]
        names.append(PlaceName(", ".join(parts) if parts else f"{lat:.4f}, {lng:.4f}", street, district,
                               store.name if store is not None else None,
                               None if metres is None else round(metres, 1)))
    return names
