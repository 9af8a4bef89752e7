"""How many H3 rings cover a circle: proven from the cells' real geometry, never a constant.

For a query point q in cell c, grid_disk(c, k) holds every store within r of q when every
cell of ring k+1 is farther than r from every point of c: a geodesic leaving the disk must
cross ring k+1 (the disk is a ball of the neighbour graph), and any point of a cell lies
within the cell's circumradius of its centre. So

    G_k(c) = min over x in ring k+1 of  d(centre c, centre x) - circ(c) - circ(x)

is a radius the disk provably covers. Cells are geodesic polygons, so a circumradius is the
largest centre-to-vertex distance. Near pentagons and icosahedron edges, where cells are
distorted, the same formula simply asks for more rings. G_k is cached per cell.
"""

import math
from collections import OrderedDict

import numpy as np
import numpy.typing as npt
from h3.api import basic_int as h3i

from geo_index.sphere import FloatArray, great_circle_many_m, great_circle_pairs_m

# Slack for float rounding in the bound itself (the bound is loose by ~100 m anyway).
_SAFETY_M = 0.05
CellArray = npt.NDArray[np.uint64]


_GEOMETRY_KEPT = 200_000  # cells whose centre and circumradius are remembered (H3 never changes)
_geometry: dict[int, tuple[float, float, float]] = {}


def _measure(cells: list[int]) -> None:
    """Centres and circumradii of cells not yet remembered, with one vectorised distance call."""
    centres = np.array([h3i.cell_to_latlng(c) for c in cells], dtype=np.float64)
    boundaries = [h3i.cell_to_boundary(c) for c in cells]
    owner = np.repeat(np.arange(len(cells)), [len(b) for b in boundaries])
    vertices = np.array([v for b in boundaries for v in b], dtype=np.float64)
    spokes = great_circle_pairs_m(centres[owner, 0], centres[owner, 1], vertices[:, 0], vertices[:, 1])
    radii = np.zeros(len(cells), dtype=np.float64)
    np.maximum.at(radii, owner, spokes)
    _geometry.update(zip(cells, zip(centres[:, 0].tolist(), centres[:, 1].tolist(), radii.tolist(), strict=True),
                         strict=True))


def _circumradii_m(cells: list[int]) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Centres (lat, lng) and circumradii of many cells. Neighbouring query cells prove their disks
    over mostly the same ring cells, so each cell is measured once and remembered."""
    missing = [c for c in cells if c not in _geometry]
    if missing:
        if len(_geometry) + len(missing) > _GEOMETRY_KEPT:
            _geometry.clear()
            missing = list(dict.fromkeys(cells))
        _measure(missing)
    known = np.array([_geometry[c] for c in cells], dtype=np.float64)
    return known[:, 0], known[:, 1], known[:, 2]


def guaranteed_radius_m(cell: int, k: int) -> float:
    """G_k(cell): every point within this distance of any point of `cell` lies in grid_disk(cell, k)."""
    lats, lngs, radii = _circumradii_m([cell, *_ring(cell, k + 1)])
    gaps = great_circle_many_m(float(lats[0]), float(lngs[0]), lats[1:], lngs[1:]) - radii[0] - radii[1:]
    return float(gaps.min()) - _SAFETY_M


def _ring(cell: int, k: int) -> list[int]:
    """The cells at grid distance k: one grid_ring call where the ring is whole and regular (6k
    distinct hexagons); anywhere else - a pentagon in reach, or H3's known wrong rings around several
    pentagons (uber/h3 issue 1241) - the sure way, disk(k) minus disk(k - 1)."""
    ring = h3i.grid_ring(cell, k)
    if len(ring) == 6 * k and len(set(ring)) == len(ring):
        return list(ring)
    inner = set(h3i.grid_disk(cell, k - 1))
    return [x for x in h3i.grid_disk(cell, k) if x not in inner]


def first_rings_worth_checking(cell: int, radius_m: float) -> int:
    """Where to start proving: the smallest k whose regular-hexagon estimate 1.5 a (k + 1) - 2 a reaches r.

    Only a shortcut that saves proving rings that are clearly too small: if it were ever too
    high, the answer would be a wider disk, still exact.
    """
    _, _, radii = _circumradii_m([cell])
    a = float(radii[0])
    return max(0, math.ceil((radius_m + 2.0 * a) / (1.5 * a)) - 1)


class DiskCover:
    """Per-cell memo of the proven rings and of the disk cells themselves (as sorted uint64 arrays)."""

    def __init__(self, max_cells: int = 50_000) -> None:
        self._max_cells = max_cells
        self._guarantees: dict[int, list[float]] = {}
        self._disks: OrderedDict[tuple[int, int], CellArray] = OrderedDict()

    def rings_for(self, cell: int, radius_m: float) -> int:
        """The smallest k whose disk is proven to cover `radius_m` around any point of `cell`."""
        known = self._guarantees.get(cell)
        if known is None:
            if len(self._guarantees) >= self._max_cells:
                self._guarantees.clear()
            known = self._guarantees[cell] = []
        for k, covered in enumerate(known):
            if covered >= radius_m:
                return k
        k = len(known)
        skip_to = first_rings_worth_checking(cell, radius_m)
        while k < skip_to:  # mark the rings we know are too small as covering nothing
            known.append(float("-inf"))
            k += 1
        while True:
            known.append(guaranteed_radius_m(cell, k))
            if known[-1] >= radius_m:
                return k
            k += 1

    def disk(self, cell: int, k: int) -> CellArray:
        key = (cell, k)
        cells = self._disks.get(key)
        if cells is None:
            cells = np.unique(np.fromiter(h3i.grid_disk(cell, k), dtype=np.uint64))  # sorted, each once
            self._disks[key] = cells
            if len(self._disks) > self._max_cells:
                self._disks.popitem(last=False)
        return cells
