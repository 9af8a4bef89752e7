"""One source row -> the store fields we keep, or the reason it is rejected."""

import functools
import math
from dataclasses import dataclass
from typing import Any

from geo_index import CoordinateError, Datum, convert, validate_latlng
from lbs_service.hours import DAYS, HoursError, parse_hours, parse_timezone
from lbs_service.importer.columns import ColumnMap
from lbs_service.importer.sources import SourceRow


@dataclass(frozen=True)
class ImportOptions:
    crs: Datum
    timezone: str
    default_category: str


@dataclass(frozen=True)
class Rejected:
    line: int
    source_id: str
    reason: str
    fields: dict[str, Any]


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _number(name: str, value: Any) -> float:
    """A coordinate as written in a file: a decimal number, nothing else."""
    if isinstance(value, bool):
        raise CoordinateError(name, value, "must be a number")
    if isinstance(value, int | float):
        return float(value)
    text = _text(value)
    if not text:
        raise CoordinateError(name, value, "is missing")
    try:
        number = float(text)
    except ValueError:
        raise CoordinateError(name, value, "is not a number") from None
    if not math.isfinite(number):
        raise CoordinateError(name, value, "must be a finite number")
    return number


@functools.lru_cache(maxsize=1024)  # a file repeats a few schedules thousands of times; callers never mutate it
def _hours(opens: str, closes: str) -> dict[str, list[list[str]]] | None:
    """A single open/close pair read as the same hours every day ('07:00:00' or '07:00')."""
    if not opens and not closes:
        return None
    if not opens or not closes:
        raise HoursError("only one of opening and closing time is given")
    span = [opens[:5], closes[:5]]
    hours = {day: [span] for day in DAYS}
    parse_hours(hours)
    return hours


def normalize(row: SourceRow, columns: ColumnMap, options: ImportOptions) -> dict[str, Any] | Rejected:
    fields = row.fields
    source_id = _text(fields.get(columns.id)) if columns.id else ""

    def reject(reason: str) -> Rejected:
        return Rejected(row.line, source_id, reason, fields)

    if not source_id:
        return reject("missing id")
    if row.geometry_error:
        return reject(row.geometry_error)
    try:
        raw_lat = row.lat if row.lat is not None else (fields.get(columns.lat) if columns.lat else None)
        raw_lng = row.lng if row.lng is not None else (fields.get(columns.lng) if columns.lng else None)
        lat, lng = validate_latlng(_number("lat", raw_lat), _number("lng", raw_lng))
    except CoordinateError as error:
        return reject(str(error))
    if lat == 0.0 and lng == 0.0:
        return reject("(0, 0) is a placeholder, not a store location")
    lat, lng = convert(lat, lng, options.crs, Datum.WGS84)
    name = _text(fields.get(columns.name)) if columns.name else ""
    if not name:
        return reject("missing name")
    try:
        opens = _text(fields.get(columns.opens)) if columns.opens else ""
        closes = _text(fields.get(columns.closes)) if columns.closes else ""
        hours = _hours(opens, closes)
    except HoursError as error:
        return reject(f"bad opening hours: {error}")
    category = (_text(fields.get(columns.category)) if columns.category else "") or options.default_category
    zone = (_text(fields.get(columns.timezone)) if columns.timezone else "") or options.timezone
    try:
        parse_timezone(zone)
    except HoursError as error:
        return reject(str(error))
    used = columns.used()
    attributes = {k: v for k, v in fields.items() if k not in used and _text(v) and not k.startswith("__")}
    return {
        "source_id": source_id[:200],
        "name": name[:300],
        "category": category[:100],
        "address": (_text(fields.get(columns.address)) or None) if columns.address else None,
        "phone": (_text(fields.get(columns.phone)) or None) if columns.phone else None,
        "hours": hours,
        "timezone": zone,
        "status": "open",
        "attributes": attributes,
        "lat": lat,
        "lng": lng,
    }
