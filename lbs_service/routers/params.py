"""Query and path parameters built from the shared field rules (fields.py): every string bounded and
free of NUL, every integer inside its column, ids as the integers or digit strings nearby returns."""

from typing import Annotated, Any, Literal

from fastapi import Header, Path, Query

from lbs_service.errors import InvalidInput
from lbs_service.fields import INT64_MAX, NO_NUL_PATTERN, StoreId


def text_query(max_length: int, min_length: int = 0, **extra: Any) -> Any:
    return Query(min_length=min_length, max_length=max_length, pattern=NO_NUL_PATTERN, **extra)


RowIdPath = Annotated[int, Path(ge=1, le=INT64_MAX)]
StoreIdPath = Annotated[int, Path(ge=1, le=INT64_MAX, description="the store's id (as nearby returns it)")]
StoreIdQuery = Annotated[StoreId | None, Query(description="a store's id (as nearby returns it)")]
IdempotencyKeyHeader = Annotated[str | None, Header(min_length=1, max_length=200, pattern=NO_NUL_PATTERN,
                                                    description="a retry with the same key gets the same answer")]

# /v1/stores/nearby: declared once, read by the route and by the fast lane.
LatQuery = Annotated[float, Query(ge=-90, le=90, allow_inf_nan=False)]
LngQuery = Annotated[float, Query(ge=-180, le=180, allow_inf_nan=False)]
RadiusQuery = Annotated[float, Query(ge=1, le=50_000, allow_inf_nan=False)]
LimitQuery = Annotated[int, Query(ge=1, le=1000)]
CategoryQuery = Annotated[str | None, text_query(1000, description="comma-separated")]
OpenNowQuery = Annotated[bool | None, Query(description="true: only stores open now by their published hours "
                                                       "(stores without published hours are left out)")]
CrsQuery = Annotated[Literal["wgs84", "gcj02", "bd09"], Query(description="datum of inputs and outputs")]
EngineQuery = Annotated[Literal["memory", "postgis"], Query(
    description="postgis: the cross-check engine in the database (rate-limited per client)")]
SearchQuery = Annotated[str | None, text_query(
    200, min_length=1, description="words to find in the store's name, category or address (every word; case "
    "and full-width forms folded)")]
CursorQuery = Annotated[str | None, text_query(
    100, min_length=1, description="where a page starts: take it from the previous page's `next` link")]
SkuQuery = Annotated[int | None, Query(ge=1, le=INT64_MAX, description="only stores with this SKU in stock")]


def numbers(raw: str, what: str) -> list[float]:
    try:
        values = [float(v) for v in raw.split(",")]
    except ValueError:
        raise InvalidInput(f"{what}: numbers separated by commas") from None
    if any(v != v or abs(v) == float("inf") for v in values):
        raise InvalidInput(f"{what}: finite numbers only")
    return values


def parse_bbox(raw: str | None) -> tuple[float, float, float, float] | None:
    """min_lng,min_lat,max_lng,max_lat (None stays None: the caller asked for a district instead)."""
    if raw is None:
        return None
    values = numbers(raw, "bbox")
    if len(values) != 4:
        raise InvalidInput("bbox is four finite numbers: min_lng,min_lat,max_lng,max_lat")
    min_lng, min_lat, max_lng, max_lat = values
    if not (-180 <= min_lng <= 180 and -180 <= max_lng <= 180 and -90 <= min_lat <= 90 and -90 <= max_lat <= 90):
        raise InvalidInput("bbox is out of range")
    return min_lng, min_lat, max_lng, max_lat
