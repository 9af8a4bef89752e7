"""Coverage of a district or a bounding box, for planners: planned and priced before any work,
then measured chunk by chunk, so an answer streams out in bounded memory and stops when the
client leaves.

A request's cost is known before it starts: the cells are counted from the area (and refused past
MAX_CELLS before the polyfill), the stores it can touch are bucketed, and a sample of its own cells
measures the work per cell (geo_index.coverage). Past MAX_WORK it is refused with the figures.
"""

import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import orjson
from h3.api import basic_int as h3i
from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select

from geo_index.coverage import Coverage, CoverageGrids, bounds_of, cells_in, coverage
from geo_index.siting import suggest_sites
from lbs_service.analytics.demand import demand_by_cell
from lbs_service.catalog import StoreCatalog
from lbs_service.csv_export import csv_writer
from lbs_service.errors import InvalidInput, NotFound
from lbs_service.responses import DemandCovered, Gap, GapsAndSites, SiteSuggestion
from lbs_service.storage.db import Database
from lbs_service.storage.models import District

MAX_CELLS = 400_000
MAX_WORK = 2e8  # point checks (about two seconds of one core): the most one request may cost
NEAR_FACTOR = 5  # nearest distances are reported up to 5 x the service radius
CHUNK_CELLS = 10_000
MAX_SITING_GAPS = 1_000  # site suggestions consider the most-demanded gaps...
MAX_SITING_CANDIDATES = 5_000  # ...and at most this many candidate cells near them
_METRES_PER_DEGREE = 111_195.0
CSV_COLUMNS = ["cell", "lat", "lng", "nearest_m", "stores_within", "covered", "demand"]


@dataclass(frozen=True)
class CoverageRequest:
    districts: tuple[str, ...]  # empty: use the bbox
    bbox: tuple[float, float, float, float] | None  # min lng, min lat, max lng, max lat
    resolution: int
    radius_m: float
    demand_days: int
    min_users: int
    extra_sites: tuple[tuple[float, float], ...] = ()  # what-if: candidate outlets as (lat, lng)
    merchant_id: int | None = None  # only this merchant's stores count as supply
    categories: tuple[str, ...] = ()  # only stores of these categories count as supply


@dataclass(frozen=True)
class CoveragePlan:
    """A priced request: its cells, its stores bucketed, its demand; measured by `chunks()`."""

    request: CoverageRequest
    cells: np.ndarray
    grids: CoverageGrids
    demand: dict[int, int]

    @property
    def estimated_work(self) -> float:
        return self.grids.estimated_work(len(self.cells))

    def chunks(self, size: int = CHUNK_CELLS) -> Iterator[np.ndarray]:
        for begin in range(0, len(self.cells), size):
            yield self.cells[begin : begin + size]

    def measure(self, cells: np.ndarray) -> Coverage:
        return self.grids.measure(cells)

    def measure_all(self) -> Coverage:
        parts = [self.measure(chunk) for chunk in self.chunks()]
        if not parts:
            return self.measure(self.cells)
        return Coverage(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                          ("cells", "lats", "lngs", "nearest_m", "stores_within")))


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


def plan(db: Database, catalog: StoreCatalog, request: CoverageRequest, now: datetime,
         max_work: float = MAX_WORK) -> CoveragePlan:
    """Price the request and refuse it (422, with the figures) when it is too big; nothing is measured yet."""
    areas = areas_of(db, request)
    cos_lat = math.cos(math.radians(areas[0].centroid.y))
    square_degrees = sum(a.area for a in areas)
    expected = square_degrees * cos_lat * _METRES_PER_DEGREE**2 / h3i.average_hexagon_area(request.resolution, "m^2")
    if expected > MAX_CELLS * 1.5:  # refuse before the polyfill, not after
        raise InvalidInput(f"about {expected:,.0f} cells: ask for a smaller area or res=8 (at most {MAX_CELLS:,})")
    near_m = request.radius_m * NEAR_FACTOR
    bounds = bounds_of(areas).grown(near_m)
    if not bounds.drawable:
        raise InvalidInput("coverage is drawn for areas clear of the poles and the antimeridian")
    cells = cells_in(areas, request.resolution)
    if len(cells) > MAX_CELLS:
        raise InvalidInput(f"{len(cells):,} cells: ask for a smaller area or res=8 (at most {MAX_CELLS:,})")
    lats, lngs = catalog.positions(request.merchant_id, request.categories)
    if request.extra_sites:
        lats = np.concatenate((lats, [lat for lat, _ in request.extra_sites]))
        lngs = np.concatenate((lngs, [lng for _, lng in request.extra_sites]))
    grids = CoverageGrids(lats, lngs, bounds, request.radius_m, near_m, CoverageGrids.sample_of(cells))
    work = grids.estimated_work(len(cells))
    if work > max_work:
        raise InvalidInput(f"this request would cost about {work:,.0f} point checks ({len(cells):,} cells, "
                           f"{grids.stores:,} stores within reach, radius {request.radius_m:g} m); the limit is "
                           f"{max_work:,.0f}: ask for a smaller area, a smaller radius or res=8")
    demand = demand_by_cell(db, request.resolution, request.demand_days, request.min_users, now)
    return CoveragePlan(request, cells, grids, demand)


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


def _feature(row: dict[str, Any]) -> dict[str, Any]:
    ring = [[lng, lat] for lat, lng in h3i.cell_to_boundary(h3i.str_to_int(row["cell"]))]
    ring.append(ring[0])
    properties = {k: v for k, v in row.items() if k not in ("lat", "lng")}
    return {"type": "Feature", "id": row["cell"], "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": properties}


class GeoJsonWriter:
    """A FeatureCollection written piece by piece: head, features chunk by chunk, then the totals."""

    def __init__(self, plan: CoveragePlan) -> None:
        self.plan = plan
        self.written = self.covered = 0

    def head(self) -> bytes:
        return b'{"type":"FeatureCollection","features":['

    def chunk(self, result: Coverage) -> bytes:
        rows = cell_rows(result, self.plan.demand)
        parts = [orjson.dumps(_feature(row)) for row in rows]
        lead = b"," if self.written and parts else b""
        self.written += len(rows)
        self.covered += sum(row["covered"] for row in rows)
        return lead + b",".join(parts)

    def tail(self) -> bytes:
        request = self.plan.request
        summary = {"cells": self.written, "covered": self.covered, "resolution": request.resolution,
                   "radius_m": request.radius_m, "demand_days": request.demand_days, "min_users": request.min_users}
        return b'],"numberMatched":%d,"numberReturned":%d,"summary":' % (self.written, self.written) + \
            orjson.dumps(summary) + b"}"


class CsvWriter:
    """The same cells as CSV rows, chunk by chunk (text cells neutralised: csv_export)."""

    def __init__(self, plan: CoveragePlan) -> None:
        self.plan = plan

    def head(self) -> bytes:
        buffer = io.StringIO()
        csv_writer(buffer, CSV_COLUMNS)
        return buffer.getvalue().encode()

    def chunk(self, result: Coverage) -> bytes:
        buffer = io.StringIO()
        writer = csv_writer(buffer, CSV_COLUMNS, header=False)
        writer.writerows(cell_rows(result, self.plan.demand))
        return buffer.getvalue().encode()

    def tail(self) -> bytes:
        return b""


def to_geojson(plan: CoveragePlan) -> dict[str, Any]:
    """The whole answer as one object (the CLI's export)."""
    writer = GeoJsonWriter(plan)
    body = writer.head() + b"".join(writer.chunk(plan.measure(chunk)) for chunk in plan.chunks()) + writer.tail()
    parsed: dict[str, Any] = orjson.loads(body)
    return parsed


def to_csv(plan: CoveragePlan) -> str:
    writer = CsvWriter(plan)
    return (writer.head() + b"".join(writer.chunk(plan.measure(chunk)) for chunk in plan.chunks())).decode()


def demand_summary(result: Coverage, demand: dict[int, int]) -> DemandCovered:
    covered = uncovered = 0
    for i, cell in enumerate(result.cells.tolist()):
        users = demand.get(cell, 0)
        if result.stores_within[i] > 0:
            covered += users
        else:
            uncovered += users
    return DemandCovered(total=covered + uncovered, covered=covered, uncovered=uncovered)


def gaps_and_sites(plan: CoveragePlan, top: int, sites: int) -> GapsAndSites:
    """Uncovered cells ranked by their demand, and greedy site suggestions that would cover most of it.

    Siting looks at the MAX_SITING_GAPS most-demanded gaps and at most MAX_SITING_CANDIDATES cells
    within the radius of them (evenly thinned when there are more), so its cost is bounded too.
    """
    result, demand, radius_m = plan.measure_all(), plan.demand, plan.request.radius_m
    positions = [i for i, cell in enumerate(result.cells.tolist())
                 if result.stores_within[i] == 0 and demand.get(cell, 0) > 0]
    ranked = sorted(positions, key=lambda i: (-demand[int(result.cells[i])], int(result.cells[i])))
    gaps = [Gap(cell=h3i.int_to_str(int(result.cells[i])), demand=demand[int(result.cells[i])],
                nearest_m=None if math.isnan(result.nearest_m[i]) else round(float(result.nearest_m[i]), 1),
                lat=round(float(result.lats[i]), 6), lng=round(float(result.lngs[i]), 6)) for i in ranked[:top]]
    if not positions:
        return GapsAndSites(gaps=[], suggestions=[], demand=demand_summary(result, demand))
    considered = ranked[:MAX_SITING_GAPS]
    gap_lats, gap_lngs = result.lats[considered], result.lngs[considered]
    # Candidate sites: the area's cells within the radius of some considered gap.
    reach = coverage(result.cells, gap_lats, gap_lngs, radius_m, radius_m)
    candidates = np.flatnonzero(reach.stores_within > 0)
    if len(candidates) > MAX_SITING_CANDIDATES:
        candidates = candidates[:: math.ceil(len(candidates) / MAX_SITING_CANDIDATES)]
    picked = suggest_sites(result.lats[candidates], result.lngs[candidates], gap_lats, gap_lngs,
                           np.array([demand[int(result.cells[i])] for i in considered]), radius_m, sites)
    resolution = plan.request.resolution
    suggestions = [SiteSuggestion(lat=round(s.lat, 6), lng=round(s.lng, 6), gained_demand=s.gained,
                                  cell=h3i.int_to_str(h3i.latlng_to_cell(s.lat, s.lng, resolution))) for s in picked]
    return GapsAndSites(gaps=gaps, suggestions=suggestions, demand=demand_summary(result, demand))
