"""An exact in-memory radius and k-nearest index over H3 cells.

Layout (CSR-like): stores are rows sorted by their H3 cell at a fine resolution, so every
cell's stores are one contiguous range found by binary search; a query looks up the ranges
of a proven disk of cells (see disk_cover.py) and filters them in one compiled loop. A second,
coarser layout serves wide radii; past that, a full scan is both simpler and faster.

Changes land in a small unsorted tail that every query scans too; when the tail grows past
a threshold the layout is rebuilt from the live rows, so single changes are O(1) and bulk
loads are one sort.
"""

import itertools
import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from h3.api import basic_int as h3i

from geo_index.coords import validate_latlng
from geo_index.disk_cover import DiskCover
from geo_index.kernels import cell_ranges, rank_hits, scan_annulus, scan_nearest, scan_ranges
from geo_index.sphere import EARTH_RADIUS_M, unit_vector, unit_vectors

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

_EMPTY_INT = np.empty(0, dtype=np.int64)
_EMPTY_BOOL = np.empty(0, dtype=np.bool_)
# Dot-product prefilter slack (radians): far above float error, far below a millimetre.
_ANGLE_SLACK = 1e-10
_TAIL_LIMIT = 4096
# Every change gives the index a version never used before by any index, so a tracker that saw
# version v knows whether these are still the stores it saw.
_VERSIONS = itertools.count(1)
# (level, cell, rings) -> candidate ranges, until the next rebuild; the oldest go first once they
# hold this many bytes. A city's users stand in tens of thousands of cells: a cache of 8,192 entries,
# cleared when full, missed nearly every time for 10,000 users' points (a third of a nearby request's
# time, measured). Counted in bytes, not entries: an entry is ~660 bytes at 1 km and ~26 KB at 5 km.
_RANGES_BUDGET = 48 << 20
_RANGES_OVERHEAD = 420  # bytes an entry takes besides its arrays (measured with tracemalloc)


@dataclass(frozen=True)
class _Level:
    """Rows grouped by H3 cell at one resolution, for radii up to max_radius_m."""

    resolution: int
    max_radius_m: float
    occupied: npt.NDArray[np.uint64]  # the distinct cells holding a store, sorted
    bounds: IntArray  # the positions of occupied[i] are bounds[i] .. bounds[i + 1]
    order: IntArray  # position -> row; empty when the rows themselves are in this order

    @classmethod
    def of(cls, resolution: int, max_radius_m: float, cells: npt.NDArray[np.uint64], order: IntArray) -> "_Level":
        """From every position's cell (sorted)."""
        occupied, first = np.unique(cells, return_index=True)
        return cls(resolution, max_radius_m, occupied, np.append(first, len(cells)).astype(np.int64), order)

    def ranges(self, disk: npt.NDArray[np.uint64]) -> "_Ranges":
        """The positions of the stores in these cells (sorted, distinct), as few ranges as they make:
        occupied cells next to each other in the layout join into one range (a dense disk's hundreds
        of cells become a few dozen ranges, kept small in the cache)."""
        starts, ends = np.empty(len(disk), np.int64), np.empty(len(disk), np.int64)
        count = cell_ranges(self.occupied, self.bounds, disk, starts, ends)
        return _Ranges.of(starts[:count].copy(), ends[:count].copy(), self.order)


@dataclass(frozen=True, slots=True)
class _Ranges:
    """Where a query's candidates are: position ranges [starts, ends) of a layout (through `order`
    when the rows are not in that layout's order), and how many positions they hold in all."""

    starts: IntArray
    ends: IntArray
    order: IntArray
    size: int

    @classmethod
    def of(cls, starts: IntArray, ends: IntArray, order: IntArray) -> "_Ranges":
        return cls(starts, ends, order, int((ends - starts).sum()))

    @property
    def nbytes(self) -> int:
        return self.starts.nbytes + self.ends.nbytes + _RANGES_OVERHEAD

    @classmethod
    def whole(cls, size: int) -> "_Ranges":
        return cls(np.zeros(1, np.int64), np.full(1, size, np.int64), _EMPTY_INT, size)


class _Rows:
    """Column arrays of stores: the sorted main layout, or the small unsorted tail."""

    def __init__(self, ids: IntArray, lats: FloatArray, lngs: FloatArray, codes: npt.NDArray[np.int32]) -> None:
        self.ids, self.lats, self.lngs, self.codes = ids, lats, lngs, codes
        self.xyz = np.ascontiguousarray(np.column_stack(unit_vectors(lats, lngs))).reshape(len(ids), 3)
        self.alive = np.ones(len(ids), dtype=np.bool_)
        self.size = len(ids)

    @classmethod
    def empty(cls, capacity: int) -> "_Rows":
        rows = cls(np.zeros(capacity, np.int64), np.zeros(capacity), np.zeros(capacity), np.zeros(capacity, np.int32))
        rows.size = 0
        return rows

    def append(self, store_id: int, lat: float, lng: float, code: int) -> int:
        row = self.size
        self.ids[row], self.lats[row], self.lngs[row], self.codes[row] = store_id, lat, lng, code
        self.xyz[row] = unit_vector(lat, lng)
        self.alive[row] = True
        self.size += 1
        return row

    def live(self) -> "_Rows":
        keep = np.flatnonzero(self.alive[: self.size])
        return _Rows(self.ids[keep], self.lats[keep], self.lngs[keep], self.codes[keep])

    def arrays(self) -> list[npt.NDArray[np.generic]]:
        return [self.ids, self.lats, self.lngs, self.codes, self.xyz, self.alive]

    def scan_annulus(self, ranges: _Ranges, query: FloatArray, min_dot: float, min_angle: float, max_angle: float
                     ) -> tuple[IntArray, FloatArray]:
        out_rows = np.empty(ranges.size, dtype=np.int64)
        found = scan_annulus(ranges.starts, ranges.ends, ranges.order, self.xyz, self.alive, query, min_dot, min_angle,
                             max_angle, out_rows)
        rows = out_rows[:found]
        return self.ids[rows], self.xyz[rows]

    def scan(self, ranges: _Ranges, mask: npt.NDArray[np.bool_], query: FloatArray, min_dot: float, max_angle: float,
             limit: int | None = None) -> tuple[IntArray, FloatArray, int]:
        """Ids and angles of the hits (with a limit: a set of hits holding the `limit` nearest), and how
        many hits there are."""
        out_rows, out_angles = np.empty(ranges.size, dtype=np.int64), np.empty(ranges.size, dtype=np.float64)
        args = (ranges.starts, ranges.ends, ranges.order, self.xyz, self.alive, self.codes, mask, query, min_dot,
                max_angle)
        if limit is None:
            hits = written = scan_ranges(*args, out_rows, out_angles)
        else:
            hits, written = scan_nearest(*args, limit, out_rows, out_angles)
        return self.ids[out_rows[:written]], out_angles[:written], hits


class _Layout:
    """The sorted rows, their levels, the candidate ranges found in them and the tail of stores added
    since, replaced together by a rebuild: a query takes the layout once, so it never scans one
    layout's ranges in another, nor misses or doubles the stores a rebuild moved from the tail into
    the rows (threads query too: the planner's site names)."""

    def __init__(self, main: _Rows, levels: tuple[_Level, ...]) -> None:
        self.main, self.levels = main, levels
        self.id_order = np.argsort(main.ids)
        self.tail = _Rows.empty(_TAIL_LIMIT)
        self.tail_rows: dict[int, int] = {}  # id -> tail row, for stores added since the last build
        self._ranges: dict[tuple[int, int, int], _Ranges] = {}  # (level, cell, rings) -> positions
        self._ranges_bytes = 0
        self._lock = threading.Lock()  # the byte count and the eviction order, across threads

    def candidates(self, cover: DiskCover, lat: float, lng: float, radius_m: float) -> _Ranges:
        for position, level in enumerate(self.levels):
            if radius_m <= level.max_radius_m:
                cell = h3i.latlng_to_cell(lat, lng, level.resolution)
                rings = cover.rings_for(cell, radius_m)
                key = (position, cell, rings)
                ranges = self._ranges.get(key)
                if ranges is None:
                    ranges = level.ranges(cover.disk(cell, rings))
                    self._remember(key, ranges)
                return ranges
        return _Ranges.whole(len(self.main.ids))

    def main_row(self, store_id: int) -> int | None:
        """The live row of this store among the sorted rows, or None."""
        pos = int(np.searchsorted(self.main.ids, store_id, sorter=self.id_order))
        if pos < len(self.id_order):
            row = int(self.id_order[pos])
            if self.main.ids[row] == store_id and self.main.alive[row]:
                return row
        return None

    def _remember(self, key: tuple[int, int, int], ranges: _Ranges) -> None:
        if ranges.nbytes > _RANGES_BUDGET:
            return  # remembered, it would push out every other entry and then itself
        with self._lock:
            replaced = self._ranges.pop(key, None)  # another thread found them meanwhile
            if replaced is not None:
                self._ranges_bytes -= replaced.nbytes
            self._ranges[key] = ranges
            self._ranges_bytes += ranges.nbytes
            while self._ranges and self._ranges_bytes > _RANGES_BUDGET:
                self._ranges_bytes -= self._ranges.pop(next(iter(self._ranges))).nbytes  # the oldest


def _cells(lats: FloatArray, lngs: FloatArray, resolution: int) -> npt.NDArray[np.uint64]:
    pairs = zip(lats.tolist(), lngs.tolist(), strict=True)
    return np.fromiter((h3i.latlng_to_cell(a, b, resolution) for a, b in pairs), dtype=np.uint64, count=len(lats))


@dataclass(frozen=True)
class NearbyResult:
    ids: IntArray  # nearest first, ties by id
    distances_m: FloatArray
    matched: int  # everything within the radius that passed the filters, before the limit


class RadiusIndex:
    """Points (int64 id, lat, lng, category) answering radius and kNN queries exactly."""

    # Finer cells hug a circle closer: over 1M clustered stores a 1 km query scans 2,000 candidates at
    # resolution 9 against 4,300 at 8, and takes a quarter less time (BENCHMARKS.md). Each level holds
    # a store in the cell it lies in (latlng_to_cell at that resolution), never in the parent of a finer
    # one: a child reaches past its parent's hexagon, and the disk proofs (disk_cover.py) take a
    # cell's stores to lie within its circumradius.
    PRIMARY_RESOLUTION = 9
    PRIMARY_MAX_RADIUS_M = 6_000.0
    COARSE_RESOLUTION = 6
    COARSE_MAX_RADIUS_M = 60_000.0

    def __init__(self) -> None:
        self.version = 0
        self._cover = DiskCover()
        self._categories: list[str] = []
        self._category_codes: dict[str, int] = {}
        self._load(np.empty(0, np.int64), np.empty(0), np.empty(0), np.empty(0, np.int32))

    # ---- building -------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        ids: Sequence[int] | IntArray,
        lats: Sequence[float] | FloatArray,
        lngs: Sequence[float] | FloatArray,
        categories: Sequence[str] | None = None,
    ) -> "RadiusIndex":
        """Bulk build from arrays (ids must be unique; coordinates already validated WGS-84)."""
        index = cls()
        id_arr = np.asarray(ids, dtype=np.int64)
        if len(np.unique(id_arr)) != len(id_arr):
            raise ValueError("ids must be unique")
        names = categories if categories is not None else [""] * len(id_arr)
        codes = np.fromiter((index._code(c) for c in names), dtype=np.int32, count=len(id_arr))
        index._load(id_arr, np.asarray(lats, np.float64), np.asarray(lngs, np.float64), codes)
        return index

    def __contains__(self, store_id: object) -> bool:
        return isinstance(store_id, int | np.integer) and self.position(int(store_id)) is not None

    def _code(self, category: str) -> int:
        code = self._category_codes.get(category)
        if code is None:
            code = self._category_codes[category] = len(self._categories)
            self._categories.append(category)
        return code

    def _load(self, ids: IntArray, lats: FloatArray, lngs: FloatArray, codes: npt.NDArray[np.int32]) -> None:
        fine = _cells(lats, lngs, self.PRIMARY_RESOLUTION)
        rows = np.lexsort((ids, fine))
        main = _Rows(ids[rows], lats[rows], lngs[rows], codes[rows])
        coarse = _cells(main.lats, main.lngs, self.COARSE_RESOLUTION)
        coarse_order = np.argsort(coarse, kind="stable")
        self._layout = _Layout(main, (
            _Level.of(self.PRIMARY_RESOLUTION, self.PRIMARY_MAX_RADIUS_M, fine[rows], _EMPTY_INT),
            _Level.of(self.COARSE_RESOLUTION, self.COARSE_MAX_RADIUS_M, coarse[coarse_order], coarse_order),
        ))
        self._live = len(rows)
        self.version = next(_VERSIONS)

    def _rebuild(self, extra: "_Rows | None" = None) -> None:
        """Fold the tail (and `extra`) into a freshly sorted layout, dropping removed rows."""
        parts = [self._layout.main.live(), self._layout.tail.live()] + ([extra] if extra is not None else [])
        self._load(
            np.concatenate([p.ids for p in parts]),
            np.concatenate([p.lats for p in parts]),
            np.concatenate([p.lngs for p in parts]),
            np.concatenate([p.codes for p in parts]),
        )

    # ---- changes --------------------------------------------------------------------
    def remove(self, store_id: int) -> bool:
        """Forget a store (closed for good, deleted); True if it was indexed."""
        layout = self._layout
        tail_row = layout.tail_rows.pop(store_id, None)
        if tail_row is not None:
            layout.tail.alive[tail_row] = False
        else:
            row = layout.main_row(store_id)
            if row is None:
                return False
            layout.main.alive[row] = False
        self._live -= 1
        self.version = next(_VERSIONS)
        return True

    def upsert(self, store_id: int, lat: float, lng: float, category: str = "") -> None:
        """Add a store or move it; the change is visible to the next query. O(1) until the tail fills."""
        lat, lng = validate_latlng(lat, lng)
        self.remove(store_id)
        if self._layout.tail.size == _TAIL_LIMIT:
            self._rebuild()
        layout = self._layout
        layout.tail_rows[store_id] = layout.tail.append(store_id, lat, lng, self._code(category))
        self._live += 1
        self.version = next(_VERSIONS)

    def apply(self, upserts: Iterable[tuple[int, float, float, str]], removals: Iterable[int]) -> None:
        """Apply a batch of changes with at most one rebuild."""
        for store_id in removals:
            self.remove(store_id)
        batch = list(upserts)
        if len(batch) <= _TAIL_LIMIT - self._layout.tail.size:
            for store_id, lat, lng, category in batch:
                self.upsert(store_id, lat, lng, category)
            return
        for store_id, lat, lng, _ in batch:
            validate_latlng(lat, lng)
            self.remove(store_id)
        self._rebuild(
            _Rows(
                np.array([b[0] for b in batch], dtype=np.int64),
                np.array([b[1] for b in batch], dtype=np.float64),
                np.array([b[2] for b in batch], dtype=np.float64),
                np.array([self._code(b[3]) for b in batch], dtype=np.int32),
            )
        )

    # ---- queries --------------------------------------------------------------------
    def __len__(self) -> int:
        return self._live

    def position(self, store_id: int) -> tuple[float, float] | None:
        """Where the index has this store, or None."""
        layout = self._layout
        tail_row = layout.tail_rows.get(store_id)
        if tail_row is not None:
            return float(layout.tail.lats[tail_row]), float(layout.tail.lngs[tail_row])
        row = layout.main_row(store_id)
        return None if row is None else (float(layout.main.lats[row]), float(layout.main.lngs[row]))

    def memory_bytes(self) -> int:
        layout = self._layout
        arrays = [*layout.main.arrays(), *layout.tail.arrays(), layout.id_order]
        arrays += [a for level in layout.levels for a in (level.occupied, level.bounds, level.order)]
        return sum(a.nbytes for a in arrays)

    def nearby(
        self,
        lat: float,
        lng: float,
        radius_m: float,
        limit: int | None = None,
        categories: Iterable[str] | None = None,
        after: tuple[float, int] | None = None,
    ) -> NearbyResult:
        """Every store within radius_m (great circle), nearest first, at most `limit` of them.

        The order is (metres, id) on the metres reported, so two stores at the same reported distance
        go by id even when their angles differ in the last bit. With `after` = (metres, id), only the
        stores after it in that order are ranked (a page); `matched` still counts every one.
        """
        lat, lng = validate_latlng(lat, lng)
        if not radius_m >= 0 or math.isinf(radius_m):
            raise ValueError("radius_m must be a finite, non-negative number")
        mask = self._category_mask(categories)
        if limit is not None and limit > 0 and after is None:  # a first page: rank only the hits it can hold
            ids, angles, matched = self._within(lat, lng, radius_m, mask, limit)
            return self._ranked(ids, angles * EARTH_RADIUS_M, limit, radius_m, matched)
        ids, angles, matched = self._within(lat, lng, radius_m, mask)
        metres = angles * EARTH_RADIUS_M
        if after is not None:
            later = (metres > after[0]) | ((metres == after[0]) & (ids > after[1]))
            ids, metres = ids[later], metres[later]
        return self._ranked(ids, metres, limit, radius_m, matched)

    def nearest(self, lat: float, lng: float, k: int, categories: Iterable[str] | None = None) -> NearbyResult:
        """The k nearest stores, by widening the searched disk until k are inside it."""
        if k < 1:
            raise ValueError("k must be at least 1")
        wanted = list(categories) if categories is not None else None
        radius = 1_000.0
        while True:
            result = self.nearby(lat, lng, radius, limit=k, categories=wanted)
            if result.matched >= k or radius >= math.pi * EARTH_RADIUS_M:
                return result
            radius = min(radius * 4.0, math.pi * EARTH_RADIUS_M)

    def _category_mask(self, categories: Iterable[str] | None) -> npt.NDArray[np.bool_]:
        if categories is None:
            return _EMPTY_BOOL
        mask = np.zeros(max(1, len(self._categories)), dtype=np.bool_)
        for name in categories:
            code = self._category_codes.get(name)
            if code is not None:
                mask[code] = True
        return mask

    def _within(
        self, lat: float, lng: float, radius_m: float, mask: npt.NDArray[np.bool_], limit: int | None = None
    ) -> tuple[IntArray, FloatArray, int]:
        """Ids and angular distances of every live store within the radius (unsorted) - with a limit,
        only a set of them that holds the `limit` nearest - and how many are within it in all."""
        if mask.size and not mask.any():
            return _EMPTY_INT, np.empty(0), 0
        max_angle = radius_m / EARTH_RADIUS_M
        min_dot = math.cos(min(math.pi, max_angle + _ANGLE_SLACK))
        query = np.array(unit_vector(lat, lng))
        layout = self._layout
        ids, angles, matched = layout.main.scan(layout.candidates(self._cover, lat, lng, radius_m), mask, query,
                                                min_dot, max_angle, limit)
        tail, tail_size = layout.tail, layout.tail.size
        if tail_size:
            tail_ids, tail_angles, tail_matched = tail.scan(_Ranges.whole(tail_size), mask, query, min_dot, max_angle,
                                                            limit)
            ids, angles = np.concatenate((ids, tail_ids)), np.concatenate((angles, tail_angles))
            matched += tail_matched
        return ids, angles, matched

    def annulus(self, lat: float, lng: float, inner_m: float, outer_m: float) -> tuple[IntArray, FloatArray]:
        """Ids and unit vectors (rows of 3) of live stores with inner_m < distance <= outer_m, unsorted.

        For fence trackers: between two fixes d metres apart, only stores in the annulus
        radius - d .. radius of the new fix can have come within the radius.
        """
        max_angle = outer_m / EARTH_RADIUS_M
        min_dot = math.cos(min(math.pi, max_angle + _ANGLE_SLACK))
        query = np.array(unit_vector(lat, lng))
        layout = self._layout
        ranges = layout.candidates(self._cover, lat, lng, outer_m)
        ids, xyz = layout.main.scan_annulus(ranges, query, min_dot, inner_m / EARTH_RADIUS_M, max_angle)
        tail, tail_size = layout.tail, layout.tail.size
        if tail_size:
            tail_ids, tail_xyz = tail.scan_annulus(_Ranges.whole(tail_size), query, min_dot, inner_m / EARTH_RADIUS_M,
                                                   max_angle)
            ids, xyz = np.concatenate((ids, tail_ids)), np.concatenate((xyz, tail_xyz))
        return ids, xyz

    @staticmethod
    def _ranked(ids: IntArray, metres: FloatArray, limit: int | None, max_m: float, matched: int) -> NearbyResult:
        count = len(ids) if limit is None else min(limit, len(ids))
        out_ids, out_metres = np.empty(count, dtype=np.int64), np.empty(count, dtype=np.float64)
        if rank_hits(ids, metres, max_m, count, out_ids, out_metres) < 0:
            order = np.lexsort((ids, metres))[:count]  # many stores at one spot: sort them the plain way
            out_ids, out_metres = ids[order], metres[order]
        return NearbyResult(out_ids, out_metres, matched)
