"""Strict coordinate validation: nothing is coerced, nothing is clamped."""

import math
from numbers import Real

from geo_index.errors import CoordinateNotANumber, CoordinateOutOfRange, CoordinateWrongType


def _as_finite(field: str, value: object) -> float:
    if type(value) is float:  # the common case, without the abstract-class check (a microsecond a query)
        number = value
    # bool is a subclass of int: refuse it explicitly, "true" is never a latitude.
    elif isinstance(value, bool) or not isinstance(value, Real):
        raise CoordinateWrongType(field, value, "must be a number")
    else:
        number = float(value)
    if math.isnan(number) or math.isinf(number):
        raise CoordinateNotANumber(field, value, "must be a finite number")
    return number


def validate_lat(value: object, field: str = "lat") -> float:
    lat = _as_finite(field, value)
    if not -90.0 <= lat <= 90.0:
        raise CoordinateOutOfRange(field, value, "must be between -90 and 90")
    return lat


def validate_lng(value: object, field: str = "lng") -> float:
    lng = _as_finite(field, value)
    if not -180.0 <= lng <= 180.0:
        raise CoordinateOutOfRange(field, value, "must be between -180 and 180")
    return lng


def validate_latlng(lat: object, lng: object) -> tuple[float, float]:
    """Return (lat, lng) as floats, or raise a typed CoordinateError."""
    return validate_lat(lat), validate_lng(lng)
