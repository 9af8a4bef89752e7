"""Coverage of an area by stores, per H3 cell: the nearest store's distance and how many stores
are within the service radius of the cell's centre.

Store-centric, so the cost follows the stores near the area rather than the cells: every store
adds itself to the cells of a proven disk around it (cover.py), with the exact great-circle
distance to each cell centre. Nearest distances are reported up to `near_m`; a cell farther
than that from every store gets NaN ("more than near_m").
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from h3.api import basic_int as h3i
from shapely.geometry.base import BaseGeometry

from geo_index.cover import DiskCover
from geo_index.sphere import EARTH_RADIUS_M, great_circle_many_m


@dataclass(frozen=True)
class Coverage:
    cells: npt.NDArray[np.uint64]  # sorted
    lats: npt.NDArray[np.float64]  # cell centres
    lngs: npt.NDArray[np.float64]
    nearest_m: npt.NDArray[np.float64]  # NaN: farther than near_m from every store
    stores_within: npt.NDArray[np.int32]

    @property
    def covered(self) -> npt.NDArray[np.bool_]:
        return np.asarray(self.stores_within > 0)


def cells_in(areas: Iterable[BaseGeometry], resolution: int) -> npt.NDArray[np.uint64]:
    """The cells whose centres lie in any of the areas (H3's polyfill rule), sorted and unique."""
    found: set[int] = set()
    for area in areas:
        found.update(h3i.geo_to_cells(area, resolution))
    return np.array(sorted(found), dtype=np.uint64)


def near_areas(areas: Iterable[BaseGeometry], lats: npt.NDArray[np.float64], lngs: npt.NDArray[np.float64],
               margin_m: float) -> npt.NDArray[np.bool_]:
    """Which points lie in the areas' bounding box grown by margin_m: the only stores that can reach
    a cell of the areas within margin_m (outside ones still serve border cells)."""
    bounds = np.array([a.bounds for a in areas])
    min_lng, min_lat = bounds[:, 0].min(), bounds[:, 1].min()
    max_lng, max_lat = bounds[:, 2].max(), bounds[:, 3].max()
    dlat = np.degrees(margin_m / EARTH_RADIUS_M)
    dlng = dlat / max(0.01, math.cos(math.radians(max(abs(min_lat - dlat), abs(max_lat + dlat)))))
    return np.asarray((lats >= min_lat - dlat) & (lats <= max_lat + dlat)
                      & (lngs >= min_lng - dlng) & (lngs <= max_lng + dlng))


def coverage(
    cells: npt.NDArray[np.uint64],
    store_lats: npt.NDArray[np.float64],
    store_lngs: npt.NDArray[np.float64],
    radius_m: float,
    near_m: float,
) -> Coverage:
    if near_m < radius_m:
        raise ValueError("near_m must be at least radius_m")
    centres = np.array([h3i.cell_to_latlng(int(c)) for c in cells.tolist()], dtype=np.float64).reshape(-1, 2)
    nearest = np.full(len(cells), np.inf)
    within = np.zeros(len(cells), dtype=np.int32)
    if len(cells):
        resolution = h3i.get_resolution(int(cells[0]))
        cover = DiskCover()
        for lat, lng in zip(store_lats.tolist(), store_lngs.tolist(), strict=True):
            home = h3i.latlng_to_cell(lat, lng, resolution)
            disk = cover.disk(home, cover.rings_for(home, near_m))
            positions = np.searchsorted(cells, disk)  # disk is sorted: positions of its cells in the area, if there
            found = positions < len(cells)
            positions, disk = positions[found], disk[found]
            positions = positions[cells[positions] == disk]
            if not len(positions):
                continue
            distance = great_circle_many_m(lat, lng, centres[positions, 0], centres[positions, 1])
            np.minimum.at(nearest, positions, distance)
            inside = positions[distance <= radius_m]
            np.add.at(within, inside, 1)
    nearest[nearest > near_m] = np.nan
    return Coverage(cells, centres[:, 0], centres[:, 1], nearest, within)
