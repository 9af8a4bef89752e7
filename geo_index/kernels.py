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
            cx = xyz[row, 1] * qz - xyz[row, 2] * qy
            cy = xyz[row, 2] * qx - xyz[row, 0] * qz
            cz = xyz[row, 0] * qy - xyz[row, 1] * qx
            angle = math.atan2(math.sqrt(cx * cx + cy * cy + cz * cz), dot)
            if angle <= max_angle:
                out_rows[found] = row
                out_angles[found] = angle
                found += 1
    return found
