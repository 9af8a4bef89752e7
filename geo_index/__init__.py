"""Pure geodesy and spatial indexing: no I/O, nothing from the service layers.

Everything in here works in WGS-84 degrees on the sphere PostGIS uses, so the in-memory
engine and the database agree to the micrometre.
"""

from geo_index.coords import validate_lat, validate_latlng, validate_lng
from geo_index.datum import Datum, convert, parse_datum
from geo_index.errors import (
    CoordinateError,
    CoordinateNotANumber,
    CoordinateOutOfRange,
    CoordinateWrongType,
    UnknownDatum,
)
from geo_index.radius_index import NearbyResult, RadiusIndex
from geo_index.sphere import EARTH_RADIUS_M, great_circle_m

__all__ = [
    "EARTH_RADIUS_M",
    "CoordinateError",
    "CoordinateNotANumber",
    "CoordinateOutOfRange",
    "CoordinateWrongType",
    "Datum",
    "NearbyResult",
    "RadiusIndex",
    "UnknownDatum",
    "convert",
    "great_circle_m",
    "parse_datum",
    "validate_lat",
    "validate_latlng",
    "validate_lng",
]
