"""Great-circle geometry on PostGIS's sphere.

PostGIS computes `use_spheroid=false` distances on a sphere of the WGS-84 mean radius
(2a + b) / 3; using the very same radius keeps both engines' answers identical at the
micrometre level (API.md rounds it to 6,371,008.8 m).
"""

import math

import numpy as np
import numpy.typing as npt

EARTH_RADIUS_M = (2 * 6_378_137.0 + 6_356_752.314245179) / 3

FloatArray = npt.NDArray[np.float64]


def great_circle_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Distance in metres, by the atan2 form PostGIS uses: stable for tiny and antipodal arcs."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lng2 - lng1)
    cos_p1, sin_p1, cos_p2, sin_p2 = math.cos(p1), math.sin(p1), math.cos(p2), math.sin(p2)
    a1 = cos_p2 * math.sin(dl)
    a2 = cos_p1 * sin_p2 - sin_p1 * cos_p2 * math.cos(dl)
    b = sin_p1 * sin_p2 + cos_p1 * cos_p2 * math.cos(dl)
    return math.atan2(math.hypot(a1, a2), b) * EARTH_RADIUS_M


def great_circle_many_m(lat: float, lng: float, lats: FloatArray, lngs: FloatArray) -> FloatArray:
    """Vectorised great_circle_m from one point to many (the brute-force reference)."""
    p1, p2 = math.radians(lat), np.radians(lats)
    dl = np.radians(lngs - lng)
    cos_p2, sin_p2, cos_dl = np.cos(p2), np.sin(p2), np.cos(dl)
    a1 = cos_p2 * np.sin(dl)
    a2 = math.cos(p1) * sin_p2 - math.sin(p1) * cos_p2 * cos_dl
    b = math.sin(p1) * sin_p2 + math.cos(p1) * cos_p2 * cos_dl
    result: FloatArray = np.arctan2(np.hypot(a1, a2), b) * EARTH_RADIUS_M
    return result


def great_circle_pairs_m(lats1: FloatArray, lngs1: FloatArray, lats2: FloatArray, lngs2: FloatArray) -> FloatArray:
    """Element-wise great_circle_m over arrays of point pairs."""
    p1, p2 = np.radians(lats1), np.radians(lats2)
    dl = np.radians(lngs2 - lngs1)
    cos_p1, sin_p1, cos_p2, sin_p2, cos_dl = np.cos(p1), np.sin(p1), np.cos(p2), np.sin(p2), np.cos(dl)
    a1 = cos_p2 * np.sin(dl)
    a2 = cos_p1 * sin_p2 - sin_p1 * cos_p2 * cos_dl
    b = sin_p1 * sin_p2 + cos_p1 * cos_p2 * cos_dl
    result: FloatArray = np.arctan2(np.hypot(a1, a2), b) * EARTH_RADIUS_M
    return result


def unit_vectors(lats: FloatArray, lngs: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Points as (x, y, z) on the unit sphere: the radius filter becomes one dot product."""
    p, lam = np.radians(lats), np.radians(lngs)
    cos_p = np.cos(p)
    return cos_p * np.cos(lam), cos_p * np.sin(lam), np.sin(p)


def unit_vector(lat: float, lng: float) -> tuple[float, float, float]:
    p, lam = math.radians(lat), math.radians(lng)
    return math.cos(p) * math.cos(lam), math.cos(p) * math.sin(lam), math.sin(p)
