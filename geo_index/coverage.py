"""Coverage of an area by stores, per H3 cell: how many stores are within the service radius of
the cell's centre, and the nearest store's distance (up to `near_m`; NaN beyond: "farther").

The work grows with cells + stores, never with cells x stores in reach, so its cost is known
before it starts (`CoverageGrids.estimated_work`):

- Stores are bucketed in a latitude/longitude grid (sorted by bucket, with per-row prefix counts).
- Stores within r of a centre: for every grid row the cap touches, the buckets whose four corners
  lie inside the cap are counted whole from the prefix sums - the farthest point of a lat/lng
  rectangle from any point is one of its corners - and only the few buckets on the cap's edge are
  checked store by store. Fully-inside buckets of a row are contiguous, so each row costs O(1)
  plus its edge buckets.
- Nearest store: rings of buckets outward from the centre's bucket, stopping when a ring's proven
  lower bound exceeds the best distance found (the fine grid while some store is within r, a
  coarse grid beyond, so far-away cells cost a handful of rings).

Both are exact on the sphere the rest of geo_index uses (dot-product prefilter, atan2 distance).
Areas must stay clear of the poles and the antimeridian (the grid does not wrap).
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt
from h3.api import basic_int as h3i
from shapely.geometry.base import BaseGeometry

from geo_index.sphere import EARTH_RADIUS_M, unit_vectors

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
_SLACK = 1e-10  # radians: float error in the dot-product prefilter, far below a millimetre
_INNER_M = 0.001  # a bucket counts whole only when its corners are this much inside the radius
MAX_BUCKETS = 400_000  # per grid: bounds memory (corners, offsets, prefix sums) whatever the request
MAX_ABS_LAT = 80.0


@dataclass(frozen=True)
class Coverage:
    cells: npt.NDArray[np.uint64]
    lats: FloatArray  # cell centres
    lngs: FloatArray
    nearest_m: FloatArray  # NaN: farther than near_m from every store
    stores_within: npt.NDArray[np.int32]

    @property
    def covered(self) -> npt.NDArray[np.bool_]:
        return np.asarray(self.stores_within > 0)


@dataclass(frozen=True)
class Bounds:
    min_lat: float
    max_lat: float
    min_lng: float
    max_lng: float

    def grown(self, margin_m: float) -> "Bounds":
        dlat = math.degrees(margin_m / EARTH_RADIUS_M)
        widest = min(89.0, max(abs(self.min_lat - dlat), abs(self.max_lat + dlat)))
        dlng = dlat / math.cos(math.radians(widest))
        return Bounds(self.min_lat - dlat, self.max_lat + dlat, self.min_lng - dlng, self.max_lng + dlng)

    @property
    def drawable(self) -> bool:
        """Clear of the poles and the antimeridian, where a lat/lng grid would have to wrap."""
        return (self.min_lat >= -MAX_ABS_LAT and self.max_lat <= MAX_ABS_LAT
                and self.min_lng > -180.0 and self.max_lng < 180.0)

    def contains(self, lats: FloatArray, lngs: FloatArray) -> npt.NDArray[np.bool_]:
        return np.asarray((lats >= self.min_lat) & (lats <= self.max_lat)
                          & (lngs >= self.min_lng) & (lngs <= self.max_lng))


def bounds_of(areas: Iterable[BaseGeometry]) -> Bounds:
    boxes = np.array([a.bounds for a in areas])
    return Bounds(float(boxes[:, 1].min()), float(boxes[:, 3].max()), float(boxes[:, 0].min()),
                  float(boxes[:, 2].max()))


def cells_in(areas: Iterable[BaseGeometry], resolution: int) -> npt.NDArray[np.uint64]:
    """The cells whose centres lie in any of the areas (H3's polyfill rule), sorted and unique."""
    found: set[int] = set()
    for area in areas:
        found.update(h3i.geo_to_cells(area, resolution))
    return np.array(sorted(found), dtype=np.uint64)


def cell_centres(cells: npt.NDArray[np.uint64]) -> tuple[FloatArray, FloatArray]:
    centres = np.array([h3i.cell_to_latlng(int(c)) for c in cells.tolist()], dtype=np.float64).reshape(-1, 2)
    return centres[:, 0].copy(), centres[:, 1].copy()


@dataclass(frozen=True)
class Grid:
    """Points bucketed by latitude/longitude: CSR offsets, per-row prefix counts, corner unit vectors."""

    lat0: float
    lng0: float
    dlat: float  # degrees
    dlng: float
    rows: int
    cols: int
    starts: IntArray  # rows * cols + 1 offsets into xyz
    xyz: FloatArray  # points sorted by bucket
    prefix: IntArray  # rows x (cols + 1): points in buckets (i, 0 .. j-1)
    corners: FloatArray  # (rows + 1) * (cols + 1) x 3
    cos_max_lat: float

    @classmethod
    def build(cls, lats: FloatArray, lngs: FloatArray, bounds: Bounds, bucket_m: float) -> "Grid":
        height = bounds.max_lat - bounds.min_lat
        width = bounds.max_lng - bounds.min_lng
        widest = max(abs(bounds.min_lat), abs(bounds.max_lat))
        dlat = math.degrees(bucket_m / EARTH_RADIUS_M)
        dlng = dlat / math.cos(math.radians(widest))
        rows, cols = max(1, math.ceil(height / dlat)), max(1, math.ceil(width / dlng))
        while rows * cols > MAX_BUCKETS:  # coarser buckets, never more memory
            dlat, dlng = dlat * 1.25, dlng * 1.25
            rows, cols = max(1, math.ceil(height / dlat)), max(1, math.ceil(width / dlng))
        row = np.clip(((lats - bounds.min_lat) / dlat).astype(np.int64), 0, rows - 1)
        col = np.clip(((lngs - bounds.min_lng) / dlng).astype(np.int64), 0, cols - 1)
        bucket = row * cols + col
        order = np.argsort(bucket, kind="stable")
        counts = np.bincount(bucket, minlength=rows * cols).astype(np.int64)
        starts = np.zeros(rows * cols + 1, dtype=np.int64)
        np.cumsum(counts, out=starts[1:])
        prefix = np.zeros((rows, cols + 1), dtype=np.int64)
        np.cumsum(counts.reshape(rows, cols), axis=1, out=prefix[:, 1:])
        x, y, z = unit_vectors(lats[order], lngs[order])
        corner_lat = bounds.min_lat + dlat * np.arange(rows + 1)
        corner_lng = bounds.min_lng + dlng * np.arange(cols + 1)
        grid_lat, grid_lng = np.meshgrid(corner_lat, corner_lng, indexing="ij")
        cx, cy, cz = unit_vectors(grid_lat.ravel(), grid_lng.ravel())
        return cls(bounds.min_lat, bounds.min_lng, dlat, dlng, rows, cols, starts,
                   np.ascontiguousarray(np.column_stack((x, y, z))), prefix,
                   np.ascontiguousarray(np.column_stack((cx, cy, cz))),
                   math.cos(math.radians(min(89.9, widest + dlat))))



@numba.njit(cache=True, nogil=True)
def _angle(px: float, py: float, pz: float, qx: float, qy: float, qz: float) -> float:
    dot = px * qx + py * qy + pz * qz
    cx, cy, cz = py * qz - pz * qy, pz * qx - px * qz, px * qy - py * qx
    return math.atan2(math.sqrt(cx * cx + cy * cy + cz * cz), dot)


@numba.njit(cache=True, nogil=True)
def _count_in_bucket(start: int, end: int, xyz: FloatArray, qx: float, qy: float, qz: float, min_dot: float,
                     inner_dot: float, max_angle: float) -> int:
    """Points of one bucket within max_angle: clearly inside by the dot product alone, the thin band
    at the edge by the exact angle."""
    found = 0
    for s in range(start, end):
        dot = xyz[s, 0] * qx + xyz[s, 1] * qy + xyz[s, 2] * qz
        if dot >= inner_dot or (dot >= min_dot and _angle(xyz[s, 0], xyz[s, 1], xyz[s, 2], qx, qy, qz) <= max_angle):
            found += 1
    return found


@numba.njit(cache=True, nogil=True)
def _bucket_inside(i: int, j: int, cols: int, corners: FloatArray, qx: float, qy: float, qz: float,
                   inner_dot: float) -> bool:
    for di in range(2):
        for dj in range(2):
            c = (i + di) * (cols + 1) + j + dj
            if corners[c, 0] * qx + corners[c, 1] * qy + corners[c, 2] * qz < inner_dot:
                return False
    return True


ROW_WORK = 8  # a row costs about as much as eight point checks (its extent, its prefix sums)
BUCKET_WORK = 4  # a bucket's corner test: four dot products


@numba.njit(cache=True, nogil=True)
def _half_width(qlat: float, row_lat0: float, row_lat1: float, angle: float) -> float:
    """Radians of longitude either side of the query within which a point of this row can lie within
    `angle` (-1: none can). From the haversine identity sin^2(d/2) = sin^2(dphi/2) + cos phi1 cos phi2
    sin^2(dlambda/2), bounded below with the row's smallest latitude gap and largest latitude."""
    gap = 0.0 if row_lat0 <= qlat <= row_lat1 else math.radians(min(abs(qlat - row_lat0), abs(qlat - row_lat1)))
    if gap > angle:
        return -1.0
    widest = math.radians(max(abs(qlat), abs(row_lat0), abs(row_lat1)))
    room = math.sin(angle / 2.0) ** 2 - math.sin(gap / 2.0) ** 2
    if room <= 0.0:
        return 0.0
    ratio = math.sqrt(room) / math.cos(widest)
    return math.pi if ratio >= 1.0 else 2.0 * math.asin(ratio)


@numba.njit(cache=True, nogil=True)
def count_within(qlat: FloatArray, qlng: FloatArray, qxyz: FloatArray, lat0: float, lng0: float, dlat: float,
                 dlng: float, rows: int, cols: int, starts: IntArray, xyz: FloatArray, prefix: IntArray,
                 corners: FloatArray, radius_angle: float, inner_angle: float, out: IntArray) -> int:
    """Points within radius_angle of each query point, into `out`; returns the work done (see ROW_WORK)."""
    outer = min(math.pi, radius_angle + _SLACK)
    min_dot, inner_dot = math.cos(outer), math.cos(inner_angle)
    reach = math.degrees(outer)
    work = 0
    for q in range(qlat.size):
        qx, qy, qz = qxyz[q, 0], qxyz[q, 1], qxyz[q, 2]
        row_lo = max(0, math.floor((qlat[q] - reach - lat0) / dlat) - 1)
        row_hi = min(rows - 1, math.floor((qlat[q] + reach - lat0) / dlat) + 1)
        total = 0
        for i in range(row_lo, row_hi + 1):
            work += ROW_WORK
            half = _half_width(qlat[q], lat0 + i * dlat, lat0 + (i + 1) * dlat, outer)
            if half < 0.0:
                continue
            half_deg = math.degrees(half)
            j = max(0, math.floor((qlng[q] - half_deg - lng0) / dlng))
            last = min(cols - 1, math.floor((qlng[q] + half_deg - lng0) / dlng))
            while j <= last:
                work += BUCKET_WORK
                if _bucket_inside(i, j, cols, corners, qx, qy, qz, inner_dot):
                    break
                b = i * cols + j
                work += starts[b + 1] - starts[b]
                total += _count_in_bucket(starts[b], starts[b + 1], xyz, qx, qy, qz, min_dot, inner_dot,
                                          radius_angle)
                j += 1
            if j > last:
                continue
            k = last
            while k > j:
                work += BUCKET_WORK
                if _bucket_inside(i, k, cols, corners, qx, qy, qz, inner_dot):
                    break
                b = i * cols + k
                work += starts[b + 1] - starts[b]
                total += _count_in_bucket(starts[b], starts[b + 1], xyz, qx, qy, qz, min_dot, inner_dot,
                                          radius_angle)
                k -= 1
            total += prefix[i, k + 1] - prefix[i, j]  # the inside run j..k, counted whole
        out[q] = total
    return work


@numba.njit(cache=True, nogil=True)
def _ring_floor(k: int, dlat: float, dlng: float, cos_max_lat: float) -> float:
    """A proven lower bound (radians) on the distance from a point to any point k rings of buckets away."""
    if k <= 1:
        return 0.0
    by_rows = math.radians((k - 1) * dlat)
    by_cols = 2.0 * math.asin(min(1.0, cos_max_lat * math.sin(math.radians((k - 1) * dlng) / 2.0)))
    return min(by_rows, by_cols)


@numba.njit(cache=True, nogil=True)
def nearest_angle(qlat: FloatArray, qlng: FloatArray, qxyz: FloatArray, only: npt.NDArray[np.bool_], lat0: float,
                  lng0: float, dlat: float, dlng: float, rows: int, cols: int, starts: IntArray, xyz: FloatArray,
                  cos_max_lat: float, max_angle: float, out: FloatArray) -> int:
    """Angle to the nearest point (inf beyond max_angle) for the queries where `only` is set; returns the work."""
    work = 0
    for q in range(qlat.size):
        if not only[q]:
            continue
        qx, qy, qz = qxyz[q, 0], qxyz[q, 1], qxyz[q, 2]
        home_i = math.floor((qlat[q] - lat0) / dlat)
        home_j = math.floor((qlng[q] - lng0) / dlng)
        best, best_dot = math.inf, -2.0
        k = 0
        while True:
            floor = _ring_floor(k, dlat, dlng, cos_max_lat)
            if floor > best or floor > max_angle:
                break
            if home_i - k < 0 and home_j - k < 0 and home_i + k >= rows and home_j + k >= cols:
                break  # the ring has left the grid on every side: no point remains
            for i in range(home_i - k, home_i + k + 1):
                if i < 0 or i >= rows:
                    continue
                edge_row = i == home_i - k or i == home_i + k
                step = 1 if edge_row or k == 0 else 2 * k  # the ring's perimeter only
                j = home_j - k
                while j <= home_j + k:
                    if 0 <= j < cols:
                        b = i * cols + j
                        work += 1
                        for s in range(starts[b], starts[b + 1]):
                            work += 1
                            dot = xyz[s, 0] * qx + xyz[s, 1] * qy + xyz[s, 2] * qz
                            if dot > best_dot - 1e-15:  # near-ties: the exact angle decides
                                angle = _angle(xyz[s, 0], xyz[s, 1], xyz[s, 2], qx, qy, qz)
                                if angle < best:
                                    best, best_dot = angle, max(best_dot, dot)
                    j += step
            k += 1
        out[q] = best if best <= max_angle else math.inf
    return work


class CoverageGrids:
    """The stores of one coverage request, bucketed once; cells are then measured in chunks.

    Two grids: one to count stores within r and find the nearest store of covered cells (its bucket
    size chosen among a few by measuring a sample of the request's own cells), one with buckets of r
    for the nearest store of the rest (beyond r). The same sample gives the request's cost before it
    runs.
    """

    SAMPLE = 256
    BUCKETS_PER_RADIUS = (4.0, 8.0, 16.0, 32.0)

    def __init__(self, lats: FloatArray, lngs: FloatArray, bounds: Bounds, radius_m: float, near_m: float,
                 sample: npt.NDArray[np.uint64] | None = None) -> None:
        if near_m < radius_m:
            raise ValueError("near_m must be at least radius_m")
        self.radius_m, self.near_m = radius_m, near_m
        inside = bounds.contains(lats, lngs)  # a store outside the grid would be counted in the wrong bucket
        lats, lngs = lats[inside], lngs[inside]
        self.stores = len(lats)
        self.far = Grid.build(lats, lngs, bounds, radius_m)
        candidates = [Grid.build(lats, lngs, bounds, radius_m / n) for n in self.BUCKETS_PER_RADIUS]
        self.work_per_cell = 0.0
        self.count = candidates[1]
        if sample is not None and len(sample):
            costs = [self._work(grid, sample) for grid in candidates]
            best = int(np.argmin(costs))
            self.count, self.work_per_cell = candidates[best], costs[best] / len(sample)

    @classmethod
    def sample_of(cls, cells: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
        """Evenly spread cells of the request, for its estimate."""
        step = max(1, len(cells) // cls.SAMPLE)
        return cells[::step]

    def estimated_work(self, cells: int) -> float:
        """What measuring `cells` cells will cost, in point checks, from the sample (0 without one)."""
        return self.work_per_cell * cells

    def _work(self, grid: Grid, sample: npt.NDArray[np.uint64]) -> float:
        _, _, work = self._measure(grid, sample)
        return float(work)

    def measure(self, cells: npt.NDArray[np.uint64]) -> Coverage:
        result, _, _ = self._measure(self.count, cells)
        return result

    def _measure(self, count_grid: Grid, cells: npt.NDArray[np.uint64]) -> tuple[Coverage, int, int]:
        lats, lngs = cell_centres(cells)
        qxyz = np.ascontiguousarray(np.column_stack(unit_vectors(lats, lngs))).reshape(len(cells), 3)
        radius_angle = self.radius_m / EARTH_RADIUS_M
        within = np.zeros(len(cells), dtype=np.int64)
        g = count_grid
        work = count_within(lats, lngs, qxyz, g.lat0, g.lng0, g.dlat, g.dlng, g.rows, g.cols, g.starts, g.xyz,
                            g.prefix, g.corners, radius_angle, max(0.0, self.radius_m - _INNER_M) / EARTH_RADIUS_M,
                            within)
        nearest = np.full(len(cells), np.inf)
        covered = within > 0
        for grid, which, reach in ((count_grid, covered, self.radius_m), (self.far, ~covered, self.near_m)):
            work += nearest_angle(lats, lngs, qxyz, which, grid.lat0, grid.lng0, grid.dlat, grid.dlng, grid.rows,
                                  grid.cols, grid.starts, grid.xyz, grid.cos_max_lat, reach / EARTH_RADIUS_M, nearest)
        nearest_m = nearest * EARTH_RADIUS_M
        nearest_m[~np.isfinite(nearest_m)] = np.nan
        return Coverage(cells, lats, lngs, nearest_m, within.astype(np.int32)), len(cells), work


def coverage(cells: npt.NDArray[np.uint64], store_lats: FloatArray, store_lngs: FloatArray, radius_m: float,
             near_m: float) -> Coverage:
    """Every cell at once (small areas, tests, site suggestions); grows the grid to hold every store."""
    lats, lngs = cell_centres(cells)
    all_lats, all_lngs = np.concatenate((lats, store_lats)), np.concatenate((lngs, store_lngs))
    if not len(all_lats):
        return Coverage(cells, lats, lngs, np.full(0, np.nan), np.zeros(0, np.int32))
    box = Bounds(float(all_lats.min()), float(all_lats.max()), float(all_lngs.min()), float(all_lngs.max()))
    return CoverageGrids(store_lats, store_lngs, box.grown(radius_m / 8.0), radius_m, near_m).measure(cells)
