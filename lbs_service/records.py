"""What a worker keeps in memory about each store to answer nearby queries without the database."""

import json
import re
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from lbs_service.hours import Spans, is_open, parse_hours, parse_timezone
from lbs_service.statuses import StoreStatus


class StoreRow(Protocol):
    """A stored store, as the ORM (storage.models.Store) reads it: what a record is made from."""

    id: int
    merchant_id: int
    source_id: str
    name: str
    category: str
    address: str | None
    phone: str | None
    hours: dict[str, Any] | None
    timezone: str
    lat: float
    lng: float
    status: StoreStatus
    rating_count: int
    rating_sum: int
    attributes: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StoreRecord:
    """A store as nearby answers show it, held in memory."""
    id: int
    merchant_id: int
    source_id: str
    name: str
    category: str
    address: str | None
    phone: str | None
    hours: dict[str, Any] | None  # shared between stores with the same hours: never mutate
    timezone: str
    lat: float
    lng: float
    spans: Spans
    zone: ZoneInfo
    status: StoreStatus = StoreStatus.OPEN
    rating_count: int = 0
    rating_sum: int = 0
    utilities: tuple[str, ...] | None = None  # the bills an outlet takes, when it says

    @property
    def rating(self) -> dict[str, float] | None:
        if not self.rating_count:
            return None
        return {"average": round(self.rating_sum / self.rating_count, 2), "count": self.rating_count}

    def open_at(self, at: datetime) -> bool:
        """Open at `at` by its published hours (False when it publishes none)."""
        return self.status == StoreStatus.OPEN and bool(self.spans) and is_open(self.spans, self.zone, at)

    def open_state(self, at: datetime) -> bool | None:
        """Open, closed, or None: unknown, for a store that publishes no hours."""
        if self.status != StoreStatus.OPEN:
            return False
        return is_open(self.spans, self.zone, at) if self.spans else None


UTILITIES = ("water", "electricity", "gas")


def utilities_of(listed: object) -> tuple[str, ...] | None:
    """The utility bills an outlet takes, from its imported `utilities` attribute ("water;gas", a list,
    or the JSON text of one); None when it does not say."""
    if listed is None or listed == "":
        return None
    words = set(re.findall(r"[a-z]+", str(listed).lower()))
    return tuple(u for u in UTILITIES if u in words)


class RecordFactory:
    """Builds records, parsing each distinct weekly schedule and time zone once.

    Chains share a handful of schedules, so a million stores cost a few parses, not a million.
    """

    def __init__(self) -> None:
        self._hours: dict[str | None, tuple[dict[str, Any] | None, Spans]] = {}
        self._zones: dict[str, ZoneInfo] = {}

    def _schedule(self, hours_json: str | None) -> tuple[dict[str, Any] | None, Spans]:
        cached = self._hours.get(hours_json)
        if cached is None:
            hours = json.loads(hours_json) if hours_json not in (None, "null") else None
            cached = self._hours[hours_json] = (hours, parse_hours(hours))
        return cached

    def _zone(self, name: str) -> ZoneInfo:
        zone = self._zones.get(name)
        if zone is None:
            zone = self._zones[name] = parse_timezone(name)
        return zone

    def from_values(self, row: Any, status: StoreStatus = StoreStatus.OPEN) -> StoreRecord:
        """From a row of StoreRepository.open_store_rows()."""
        hours, spans = self._schedule(row.hours_json)
        zone = self._zone(row.timezone)
        return StoreRecord(row.id, row.merchant_id, row.source_id, row.name, sys.intern(row.category), row.address,
                           row.phone, hours, sys.intern(row.timezone), row.lat, row.lng, spans, zone, status,
                           row.rating_count, row.rating_sum, utilities_of(row.utilities))

    def from_store(self, store: StoreRow) -> StoreRecord:
        """From an ORM Store (single-store paths: details, writes, the postgis engine)."""
        hours_json = None if store.hours is None else json.dumps(store.hours, sort_keys=True)
        _, spans = self._schedule(hours_json)
        return StoreRecord(store.id, store.merchant_id, store.source_id, store.name, store.category, store.address,
                           store.phone, store.hours, store.timezone, store.lat, store.lng, spans,
                           self._zone(store.timezone), store.status, store.rating_count or 0, store.rating_sum or 0,
                           utilities_of((store.attributes or {}).get("utilities")))


RECORDS = RecordFactory()


def record_of(store: StoreRow) -> StoreRecord:
    return RECORDS.from_store(store)


def following(found: list[tuple[StoreRecord, float]], after: tuple[float, int] | None
              ) -> list[tuple[StoreRecord, float]]:
    """The (store, metres) after the (metres, id) `after` (a page's start), in their order."""
    return found if after is None else [pair for pair in found if (pair[1], pair[0].id) > after]
