"""What a worker keeps in memory about each store to answer nearby queries without the database."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from lbs_service.hours import Spans, is_open, parse_hours, parse_timezone
from lbs_service.storage.models import Store


@dataclass(frozen=True, slots=True)
class StoreRecord:
    id: int
    merchant_id: int
    source_id: str
    name: str
    category: str
    address: str | None
    phone: str | None
    hours: dict[str, Any] | None
    timezone: str
    status: str
    lat: float
    lng: float
    spans: Spans
    zone: ZoneInfo

    @classmethod
    def from_row(cls, row: Store) -> "StoreRecord":
        return cls(
            id=row.id,
            merchant_id=row.merchant_id,
            source_id=row.source_id,
            name=row.name,
            category=row.category,
            address=row.address,
            phone=row.phone,
            hours=row.hours,
            timezone=row.timezone,
            status=row.status,
            lat=row.lat,
            lng=row.lng,
            spans=parse_hours(row.hours),
            zone=parse_timezone(row.timezone),
        )

    def open_at(self, at: datetime) -> bool:
        return self.status == "open" and is_open(self.spans, self.zone, at)
