"""Weekly opening hours in the store's own time zone, and "open now".

Format: {"mon": [["07:00", "22:00"]], "fri": [["18:00", "02:00"]], ...}. A span whose end is
not after its start runs past midnight into the next day; "24:00" ends a day.
"""

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Spans = dict[str, list[tuple[int, int]]]


class HoursError(ValueError):
    pass


def _minutes(text: object) -> int:
    if not isinstance(text, str) or len(text) != 5 or text[2] != ":":
        raise HoursError(f"time must be 'HH:MM', got {text!r}")
    hh, mm = text[:2], text[3:]
    if not (hh.isdigit() and mm.isdigit()) or int(mm) > 59 or int(hh) > 24 or (int(hh) == 24 and int(mm)):
        raise HoursError(f"time must be 'HH:MM' between 00:00 and 24:00, got {text!r}")
    return int(hh) * 60 + int(mm)


def parse_hours(hours: dict[str, Any] | None) -> Spans:
    """Validate and turn the stored format into minute spans; raises HoursError."""
    if hours is None:
        return {}
    if not isinstance(hours, dict):
        raise HoursError("hours must be an object keyed by mon..sun")
    spans: Spans = {}
    for day, ranges in hours.items():
        if day not in DAYS:
            raise HoursError(f"unknown day {day!r}; use {', '.join(DAYS)}")
        if not isinstance(ranges, list):
            raise HoursError(f"{day}: a list of [open, close] pairs")
        pairs = []
        for pair in ranges:
            if not isinstance(pair, list | tuple) or len(pair) != 2:
                raise HoursError(f"{day}: each span is [open, close]")
            pairs.append((_minutes(pair[0]), _minutes(pair[1])))
        spans[day] = pairs
    return spans


def parse_timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise HoursError(f"unknown time zone {name!r}") from None


LocalTime = tuple[str, str, int]  # today, yesterday (day names), minute of the day


def local_time(zone: ZoneInfo, at: datetime) -> LocalTime:
    local = at.astimezone(zone)
    return DAYS[local.weekday()], DAYS[(local - timedelta(days=1)).weekday()], local.hour * 60 + local.minute


def is_open(spans: Spans, zone: ZoneInfo, at: datetime) -> bool:
    """True when `at` (aware) falls in a span, counting yesterday's spans that run past midnight."""
    return open_during(spans, local_time(zone, at))


def open_during(spans: Spans, when: LocalTime) -> bool:
    today, yesterday, minute = when
    for start, end in spans.get(today, []):
        if start < end and start <= minute < end:
            return True
        if end <= start and minute >= start:
            return True
    return any(end <= start and minute < end for start, end in spans.get(yesterday, []))
