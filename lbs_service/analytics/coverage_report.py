"""Coverage of a district or a bounding box, as GeoJSON cells or CSV rows, for planners."""

import csv
import io
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from h3.api import basic_int as h3i
from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select

from geo_index.coverage import Coverage, cells_in, coverage, near_areas
from geo_index.siting import suggest_sites
from lbs_service.analytics.demand import demand_by_cell
from lbs_service.catalog import StoreCatalog
from lbs_service.errors import InvalidInput, NotFound
from lbs_service.storage.db import Database
from lbs_service.storage.models import District

MAX_CELLS = 400_000
NEAR_FACTOR = 5  # nearest distances are reported up to 5 x the service radius
_METRES_PER_DEGREE = 111_195.0


@dataclass(frozen=True)
class CoverageRequest:
    districts: tuple[str, ...]  # empty: use the bbox
    bbox: tuple[float, float, float, float] | None  # min lng, min lat, max lng, max lat
    resolution: int
    radius_m: float
    demand_days: int
    min_users: int
    extra_sites: tuple[tuple[float, float], ...] = ()  # what-if: candidate outlets as (lat, lng)


def areas_of(db: Database, request: CoverageRequest) -> list[BaseGeometry]:
    if request.districts:
        with db.session() as session:
            found = {d.code: d for d in session.scalars(select(District).where(District.code.in_(request.districts)))}
        missing = [code for code in request.districts if code not in found]
        if missing:
            raise NotFound(f"no district {missing[0]!r}: import boundaries with `lbs import boundaries`")
        return [shape(found[code].geometry) for code in request.districts]
    assert request.bbox is not None
    min_lng, min_lat, max_lng, max_lat = request.bbox
    if not (min_lng < max_lng and min_lat < max_lat):
        raise InvalidInput("bbox is min_lng,min_lat,max_lng,max_lat with min < max")
    return [box(min_lng, min_lat, max_lng, max_lat)]


def compute(db: Database, catalog: StoreCatalog, request: CoverageRequest) -> tuple[Coverage, dict[int, int]]:
    areas = areas_of(db, request)
    cos_lat = math.cos(math.radians(areas[0].centroid.y))
    square_degrees = sum(a.area for a in areas)
    expected = square_degrees * cos_lat * _METRES_PER_DEGREE**2 / h3i.average_hexagon_area(request.resolution, "m^2")
    if expected > MAX_CELLS * 1.5:  # refuse before the polyfill, not after
        raise InvalidInput(f"about {expected:,.0f} cells: ask for a smaller area or res=8 (at most {MAX_CELLS:,})")
    cells = cells_in(areas, request.resolution)
    if len(cells) > MAX_CELLS:
        raise InvalidInput(f"{len(cells):,} cells: ask for a smaller area or res=8 (at most {MAX_CELLS:,})")
    near_m = request.radius_m * NEAR_FACTOR
    lats, lngs = _stores_around(catalog, areas, near_m)
    if request.extra_sites:
        lats = np.concatenate((lats, [lat for lat, _ in request.extra_sites]))
        lngs = np.concatenate((lngs, [lng for _, lng in request.extra_sites]))
    result = coverage(cells, lats, lngs, request.radius_m, near_m)
    demand = demand_by_cell(db, request.resolution, request.demand_days, request.min_users)
    return result, demand


def _stores_around(catalog: StoreCatalog, areas: list[BaseGeometry],
                   margin_m: float) -> tuple[np.ndarray, np.ndarray]:
    records = list(catalog.records.values())
    lats, lngs = np.array([r.lat for r in records]), np.array([r.lng for r in records])
    if not records:
        return lats, lngs
    keep = near_areas(areas, lats, lngs, margin_m)
    return lats[keep], lngs[keep]


def cell_rows(result: Coverage, demand: dict[int, int]) -> list[dict[str, Any]]:
    rows = []
    for i, cell in enumerate(result.cells.tolist()):
        nearest = result.nearest_m[i]
        rows.append({"cell": h3i.int_to_str(cell), "lat": round(float(result.lats[i]), 6),
                     "lng": round(float(result.lngs[i]), 6),
                     "nearest_m": None if math.isnan(nearest) else round(float(nearest), 1),
                     "stores_within": int(result.stores_within[i]), "covered": bool(result.stores_within[i] > 0),
                     "demand": demand.get(cell)})
    return rows


def to_geojson(rows: list[dict[str, Any]], request: CoverageRequest) -> dict[str, Any]:
    features = []
    for row in rows:
        ring = [[lng, lat] for lat, lng in h3i.cell_to_boundary(h3i.str_to_int(row["cell"]))]
        ring.append(ring[0])
        properties = {k: v for k, v in row.items() if k not in ("lat", "lng")}
        features.append({"type": "Feature", "id": row["cell"], "geometry": {"type": "Polygon", "coordinates": [ring]},
                         "properties": properties})
    covered = sum(r["covered"] for r in rows)
    return {"type": "FeatureCollection", "features": features, "numberMatched": len(rows),
            "numberReturned": len(rows), "summary": {
                "cells": len(rows), "covered": covered, "resolution": request.resolution,
                "radius_m": request.radius_m, "demand_days": request.demand_days, "min_users": request.min_users}}


def to_csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["cell", "lat", "lng", "nearest_m", "stores_within", "covered",
                                                "demand"])
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def demand_summary(result: Coverage, demand: dict[int, int]) -> dict[str, int]:
    covered = uncovered = 0
    for i, cell in enumerate(result.cells.tolist()):
        users = demand.get(cell, 0)
        if result.stores_within[i] > 0:
            covered += users
        else:
            uncovered += users
    return {"total": covered + uncovered, "covered": covered, "uncovered": uncovered}


def gaps_and_sites(result: Coverage, demand: dict[int, int], radius_m: float, top: int,
                   sites: int) -> dict[str, Any]:
    """Uncovered cells ranked by their demand, and greedy site suggestions that would cover most of it."""
    positions = [i for i, cell in enumerate(result.cells.tolist())
                 if result.stores_within[i] == 0 and demand.get(cell, 0) > 0]
    ranked = sorted(positions, key=lambda i: (-demand[int(result.cells[i])], int(result.cells[i])))
    gaps = [{"cell": h3i.int_to_str(int(result.cells[i])), "demand": demand[int(result.cells[i])],
             "nearest_m": None if math.isnan(result.nearest_m[i]) else round(float(result.nearest_m[i]), 1),
             "lat": round(float(result.lats[i]), 6), "lng": round(float(result.lngs[i]), 6)} for i in ranked[:top]]
    if not positions:
        return {"gaps": [], "suggestions": [], "demand": demand_summary(result, demand)}
    gap_lats, gap_lngs = result.lats[positions], result.lngs[positions]
    # Candidate sites: every cell of the area within the radius of some gap (the gaps "cover" them).
    reach = coverage(result.cells, gap_lats, gap_lngs, radius_m, radius_m)
    candidates = np.flatnonzero(reach.stores_within > 0)
    picked = suggest_sites(result.lats[candidates], result.lngs[candidates], gap_lats, gap_lngs,
                           np.array([demand[int(result.cells[i])] for i in positions]), radius_m, sites)
    suggestions = [{"lat": round(s.lat, 6), "lng": round(s.lng, 6), "gained_demand": s.gained,
                    "cell": h3i.int_to_str(h3i.latlng_to_cell(s.lat, s.lng, h3i.get_resolution(int(result.cells[0]))))}
                   for s in picked]
    return {"gaps": gaps, "suggestions": suggestions, "demand": demand_summary(result, demand)}

