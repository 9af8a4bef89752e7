"""`lbs import boundaries`: district polygons from GeoJSON, upserted by code, bad features refused."""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shapely.geometry import mapping, shape
from shapely.validation import explain_validity

from geo_index import Datum, convert
from lbs_service.storage.db import Database
from lbs_service.storage.models import District


@dataclass
class BoundaryImport:
    imported: list[str] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (feature number, reason)


def _to_wgs84(coordinates: Any, datum: Datum) -> Any:
    if isinstance(coordinates[0], int | float):
        lat, lng = convert(coordinates[1], coordinates[0], datum, Datum.WGS84)
        return [lng, lat]
    return [_to_wgs84(c, datum) for c in coordinates]


def import_boundaries(db: Database, path: Path, code_field: str = "adcode",
                      datum: Datum = Datum.WGS84) -> BoundaryImport:
    document = json.loads(path.read_text(encoding="utf-8-sig"))
    result = BoundaryImport()
    rows = []
    for number, feature in enumerate(document.get("features", []), start=1):
        props = feature.get("properties") or {}
        geometry = feature.get("geometry") or {}
        code = str(props.get(code_field) or feature.get("id") or "").strip()
        if not code:
            result.rejected.append((number, f"no {code_field}"))
            continue
        if geometry.get("type") not in ("Polygon", "MultiPolygon"):
            result.rejected.append((number, "geometry is not a Polygon or MultiPolygon"))
            continue
        try:
            if datum != Datum.WGS84:
                geometry = {"type": geometry["type"], "coordinates": _to_wgs84(geometry["coordinates"], datum)}
            polygon = shape(geometry)
        except (ValueError, TypeError, KeyError, IndexError) as error:
            result.rejected.append((number, f"unreadable geometry: {error}"))
            continue
        if not polygon.is_valid:
            result.rejected.append((number, f"invalid geometry: {explain_validity(polygon)}"))
            continue
        rows.append(District(code=code, name=str(props.get("name") or code), city=props.get("city"),
                             province=props.get("province"), geometry=mapping(polygon)))
        result.imported.append(code)
    with db.transaction() as session:
        for row in rows:
            session.merge(row)
    return result
