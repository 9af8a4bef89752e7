"""Compiled inner loops: the only place where per-candidate work happens.

Candidates come as ranges of a cell-sorted layout; each is kept when its unit vector's dot
product with the query's reaches cos(radius) (three multiply-adds, no trigonometry). The
exact great-circle distance is computed for those hits only.
"""

import math

import numba
import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
# Dot products this far apart order their angles the same way, whatever the rounding of either
# (the float error of a dot product of unit vectors is ~1e-16).
DOT_MARGIN = 1e-12


@numba.njit(cache=True, nogil=True, inline="always")
def _angle(xyz: FloatArray, row: int, qx: float, qy: float, qz: float, dot: float) -> float:
    cx = xyz[row, 1] * qz - xyz[row, 2] * qy
    cy = xyz[row, 2] * qx - xyz[row, 0] * qz
    cz = xyz[row, 0] * qy - xyz[row, 1] * qx
    return math.atan2(math.sqrt(cx * cx + cy * cy + cz * cz), dot)


@numba.njit(cache=True, nogil=True)
def scan_ranges(
    starts: IntArray,
    ends: IntArray,
    order: IntArray,
    xyz: FloatArray,
    alive: BoolArray,
    categories: npt.NDArray[np.int32],
    wanted: BoolArray,
    query: FloatArray,
    min_dot: float,
    max_angle: float,
    out_rows: IntArray,
    out_angles: FloatArray,
) -> int:
    """Write the rows within max_angle of `query` to out_rows / out_angles; return how many.

    `order` maps positions of a secondary layout to rows (empty: positions are rows);
    `wanted` is a mask over category codes (empty: every category).
    """
    qx, qy, qz = query[0], query[1], query[2]
    use_order = order.size > 0
    filter_category = wanted.size > 0
    found = 0
    for r in range(starts.size):
        for pos in range(starts[r], ends[r]):
            row = order[pos] if use_order else pos
            dot = xyz[row, 0] * qx + xyz[row, 1] * qy + xyz[row, 2] * qz
            if dot < min_dot or not alive[row]:
                continue
            if filter_category and not wanted[categories[row]]:
                continue
            angle = _angle(xyz, row, qx, qy, qz, dot)
            if angle <= max_angle:
                out_rows[found] = row
                out_angles[found] = angle
                found += 1
    return found


@numba.njit(cache=True, nogil=True)
def scan_nearest(
    starts: IntArray,
    ends: IntArray,
    order: IntArray,
    xyz: FloatArray,
    alive: BoolArray,
    categories: npt.NDArray[np.int32],
    wanted: BoolArray,
    query: FloatArray,
    min_dot: float,
    max_angle: float,
    limit: int,
    out_rows: IntArray,
    out_angles: FloatArray,
) -> tuple[int, int]:
    """Like scan_ranges, but for a page of `limit` nearest: return (how many are within max_angle,
    how many rows were written) - every one of the `limit` nearest is among the rows written.

    An angle is worked out only where it decides something: for a hit near the radius (is it in?)
    and for the few hits whose dot product is within DOT_MARGIN of the `limit`-th largest (which
    come first?). A larger dot product is a smaller angle; DOT_MARGIN is far above the float error
    of either, so no hit that the exact angles would rank in the page can be left out.
    """
    qx, qy, qz = query[0], query[1], query[2]
    use_order = order.size > 0
    filter_category = wanted.size > 0
    sure_dot = math.cos(max_angle) + DOT_MARGIN  # at or above: certainly within max_angle
    dots = np.empty(out_rows.size, dtype=np.float64)
    hits = 0
    for r in range(starts.size):
        for pos in range(starts[r], ends[r]):
            row = order[pos] if use_order else pos
            dot = xyz[row, 0] * qx + xyz[row, 1] * qy + xyz[row, 2] * qz
            if dot < min_dot or not alive[row]:
                continue
            if filter_category and not wanted[categories[row]]:
                continue
            if dot < sure_dot and _angle(xyz, row, qx, qy, qz, dot) > max_angle:
                continue
            out_rows[hits] = row
            dots[hits] = dot
            hits += 1
    written = hits
    if hits > limit:
        cut = np.partition(dots[:hits], hits - limit)[hits - limit] - DOT_MARGIN
        written = 0
        for i in range(hits):
            if dots[i] >= cut:
                out_rows[written] = out_rows[i]
                dots[written] = dots[i]
                written += 1
    for i in range(written):
        out_angles[i] = _angle(xyz, out_rows[i], qx, qy, qz, dots[i])
    return hits, written


_BUCKET_BITS = 16
_MAX_SHIFTS_PER_HIT = 32


@numba.njit(cache=True, nogil=True)
def rank_hits(
    ids: IntArray, angles: FloatArray, max_angle: float, limit: int, out_ids: IntArray, out_angles: FloatArray
) -> int:
    """Sort hits by (angle, id) and write the first `limit`; return how many, or -1 to ask for a fallback.
    (Any non-negative measure up to `max_angle` will do: the radius index ranks reported metres.)

    Two radix passes on the angle quantised to 16 bits put every hit in its bucket in O(n); an
    insertion pass then orders each bucket exactly by (angle, id). Piles of stores at one spot
    would make that pass quadratic, so past a budget of moves it gives up and the caller sorts.
    """
    n = ids.size
    scale = (2**_BUCKET_BITS - 1) / max_angle if max_angle > 0 else 0.0
    keys = np.empty(n, dtype=np.int64)
    for i in range(n):
        keys[i] = min(int(angles[i] * scale), 2**_BUCKET_BITS - 1)
    order = np.arange(n)
    spare = np.empty(n, dtype=np.int64)
    for shift in (0, 8):
        counts = np.zeros(257, dtype=np.int64)
        for i in range(n):
            counts[((keys[order[i]] >> shift) & 255) + 1] += 1
        for b in range(256):
            counts[b + 1] += counts[b]
        for i in range(n):
            digit = (keys[order[i]] >> shift) & 255
            spare[counts[digit]] = order[i]
            counts[digit] += 1
        order, spare = spare, order
    budget = _MAX_SHIFTS_PER_HIT * n + 64
    for i in range(1, n):
        moving = order[i]
        j = i
        while j > 0:
            before = order[j - 1]
            if angles[before] < angles[moving] or (angles[before] == angles[moving] and ids[before] <= ids[moving]):
                break
            order[j] = before
            j -= 1
            budget -= 1
        order[j] = moving
        if budget < 0:
            return -1
    m = min(n, limit)
    for i in range(m):
        out_ids[i] = ids[order[i]]
        out_angles[i] = angles[order[i]]
    return m


@numba.njit(cache=True, nogil=True)
def scan_annulus(
    starts: IntArray,
    ends: IntArray,
    order: IntArray,
    xyz: FloatArray,
    alive: BoolArray,
    query: FloatArray,
    min_dot: float,
    min_angle: float,
    max_angle: float,
    out_rows: IntArray,
) -> int:
    """Write the rows with min_angle < angle <= max_angle from `query` to out_rows; return how many."""
    qx, qy, qz = query[0], query[1], query[2]
    use_order = order.size > 0
    found = 0
    for r in range(starts.size):
        for pos in range(starts[r], ends[r]):
            row = order[pos] if use_order else pos
            dot = xyz[row, 0] * qx + xyz[row, 1] * qy + xyz[row, 2] * qz
            if dot < min_dot or not alive[row]:
                continue
            if min_angle < _angle(xyz, row, qx, qy, qz, dot) <= max_angle:
                out_rows[found] = row
                found += 1
    return found


@numba.njit(cache=True, nogil=True)
def cell_ranges(
    occupied: npt.NDArray[np.uint64],
    bounds: IntArray,
    cells: npt.NDArray[np.uint64],
    out_starts: IntArray,
    out_ends: IntArray,
) -> int:
    """Write the position ranges of those `cells` (sorted, distinct) that hold stores to out_starts /
    out_ends; return how many. Occupied cell i holds positions bounds[i] .. bounds[i + 1]; cells next
    to each other among the occupied ones join into one range."""
    count = 0
    low = 0
    previous = -2
    for j in range(cells.size):
        cell = cells[j]
        high = occupied.size  # the cells are sorted: each one lies at or after the one before
        while low < high:
            middle = (low + high) >> 1
            if occupied[middle] < cell:
                low = middle + 1
            else:
                high = middle
        if low == occupied.size:
            break
        if occupied[low] != cell:
            continue
        if low == previous + 1:
            out_ends[count - 1] = bounds[low + 1]
        else:
            out_starts[count] = bounds[low]
            out_ends[count] = bounds[low + 1]
            count += 1
        previous = low
    return count
