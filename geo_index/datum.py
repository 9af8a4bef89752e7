"""Datum conversion between WGS-84 (GPS), GCJ-02 (mainland-China maps) and BD-09 (Baidu).

The forward formulas are the published ones every Chinese map SDK reproduces. The inverses
have no closed form, so they are solved by fixed-point iteration on the forward formula to
1e-10 degrees (about 0.01 mm).

Outside mainland China the providers apply no GCJ-02 offset; the usual rule is a rectangle,
lng 72.004..137.8347, lat 0.8293..55.8271. Applied as a hard edge, that rule is not invertible:
a point just inside is pushed up to ~1 km, possibly out of the rectangle, onto a point that is
also its own image from outside, and no inverse can return both. So the offset fades in over the
first EDGE_BAND_DEG inside the edge (a smoothstep): the map stays continuous and one-to-one, every
point round-trips exactly, and a point outside the rectangle is never moved. All of China lies
more than a degree inside every edge, so nothing there changes. Mongolia, parts of Korea and
Japan fall inside the rectangle and are shifted as the providers shift them. BD-09 is always
applied on top of GCJ-02, as Baidu does.
"""

import enum
import math
from collections.abc import Callable

from geo_index.errors import UnknownDatum

_A = 6_378_245.0  # Krasovsky 1940 semi-major axis, as the GCJ-02 formula uses it
_EE = 0.00669342162296594323
_BD_X_PI = math.pi * 3000.0 / 180.0
_TOLERANCE_DEG = 1e-10
_Forward = Callable[[float, float], tuple[float, float]]
_MAX_ITERATIONS = 40
_BOX = (0.8293, 55.8271, 72.004, 137.8347)  # min lat, max lat, min lng, max lng
EDGE_BAND_DEG = 0.2  # the offset fades in over this much inside the rectangle's edge


class Datum(enum.StrEnum):
    WGS84 = "wgs84"
    GCJ02 = "gcj02"
    BD09 = "bd09"


def parse_datum(name: str) -> Datum:
    try:
        return Datum(name.strip().lower())
    except ValueError:
        raise UnknownDatum(f"unknown crs {name!r}; use wgs84, gcj02 or bd09") from None


def outside_china(lat: float, lng: float) -> bool:
    min_lat, max_lat, min_lng, max_lng = _BOX
    return not (min_lng <= lng <= max_lng and min_lat <= lat <= max_lat)


def offset_weight(lat: float, lng: float) -> float:
    """How much of the GCJ-02 offset applies here: 0 outside the rectangle, 1 deeper than the band."""
    min_lat, max_lat, min_lng, max_lng = _BOX
    depth = min(lat - min_lat, max_lat - lat, lng - min_lng, max_lng - lng)
    if depth <= 0.0:
        return 0.0
    if depth >= EDGE_BAND_DEG:
        return 1.0
    t = depth / EDGE_BAND_DEG
    return t * t * (3.0 - 2.0 * t)


def _shift_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _shift_lng(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def wgs84_to_gcj02(lat: float, lng: float) -> tuple[float, float]:
    weight = offset_weight(lat, lng)
    if weight == 0.0:
        return lat, lng
    d_lat = _shift_lat(lng - 105.0, lat - 35.0)
    d_lng = _shift_lng(lng - 105.0, lat - 35.0)
    rad_lat = math.radians(lat)
    magic = 1.0 - _EE * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * math.pi)
    d_lng = (d_lng * 180.0) / (_A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return lat + weight * d_lat, lng + weight * d_lng


def gcj02_to_bd09(lat: float, lng: float) -> tuple[float, float]:
    z = math.hypot(lng, lat) + 0.00002 * math.sin(lat * _BD_X_PI)
    theta = math.atan2(lat, lng) + 0.000003 * math.cos(lng * _BD_X_PI)
    return z * math.sin(theta) + 0.006, z * math.cos(theta) + 0.0065


def _invert(forward: _Forward, lat: float, lng: float) -> tuple[float, float]:
    """Solve forward(x) = (lat, lng) for x: the offset field is smooth, so this converges fast."""
    guess_lat, guess_lng = lat, lng
    for _ in range(_MAX_ITERATIONS):
        fwd_lat, fwd_lng = forward(guess_lat, guess_lng)
        err_lat, err_lng = lat - fwd_lat, lng - fwd_lng
        guess_lat += err_lat
        guess_lng += err_lng
        if abs(err_lat) < _TOLERANCE_DEG and abs(err_lng) < _TOLERANCE_DEG:
            break
    return guess_lat, guess_lng


def gcj02_to_wgs84(lat: float, lng: float) -> tuple[float, float]:
    if outside_china(lat, lng):
        return lat, lng
    return _invert(wgs84_to_gcj02, lat, lng)


def bd09_to_gcj02(lat: float, lng: float) -> tuple[float, float]:
    return _invert(gcj02_to_bd09, lat, lng)


def wgs84_to_bd09(lat: float, lng: float) -> tuple[float, float]:
    return gcj02_to_bd09(*wgs84_to_gcj02(lat, lng))


def bd09_to_wgs84(lat: float, lng: float) -> tuple[float, float]:
    return gcj02_to_wgs84(*bd09_to_gcj02(lat, lng))


_TO_WGS84: dict[Datum, _Forward] = {
    Datum.WGS84: lambda lat, lng: (lat, lng),
    Datum.GCJ02: gcj02_to_wgs84,
    Datum.BD09: bd09_to_wgs84,
}
_FROM_WGS84: dict[Datum, _Forward] = {
    Datum.WGS84: lambda lat, lng: (lat, lng),
    Datum.GCJ02: wgs84_to_gcj02,
    Datum.BD09: wgs84_to_bd09,
}


def convert(lat: float, lng: float, source: Datum, target: Datum) -> tuple[float, float]:
    """Convert a point between datums (through WGS-84, the one datum used inside)."""
    if source == target:
        return lat, lng
    wgs_lat, wgs_lng = _TO_WGS84[source](lat, lng)
    return _FROM_WGS84[target](wgs_lat, wgs_lng)
