"""Which administrative region (district) a point lies in: polygons in an STRtree, exact
point-in-polygon on the few candidates. Points outside every polygon belong to none (the Daxing
airport stores, on the Beijing/Hebei border, are a real case)."""

from collections.abc import Iterable
from typing import Any

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.strtree import STRtree


class RegionIndex:
    """Region (district) polygons, answering which one contains a point."""

    def __init__(self, regions: Iterable[tuple[str, BaseGeometry]] = ()) -> None:
        items = list(regions)
        self.codes = [code for code, _ in items]
        self.geometries = [geometry for _, geometry in items]
        for geometry in self.geometries:
            shapely.prepare(geometry)
        self._tree = STRtree(self.geometries) if self.geometries else None

    @classmethod
    def from_geojson(cls, features: Iterable[tuple[str, dict[str, Any]]]) -> "RegionIndex":
        return cls((code, shape(geometry)) for code, geometry in features)

    def __len__(self) -> int:
        return len(self.codes)

    def region_of(self, lat: float, lng: float) -> str | None:
        if self._tree is None:
            return None
        point = shapely.Point(lng, lat)
        for position in self._tree.query(point, predicate="intersects"):  # covers: a point on an edge counts
            return self.codes[int(position)]
        return None
