"""A location fix as clients send it, validated strictly and turned into a WGS-84 fence fix."""

from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from geo_index import Datum, convert, parse_datum
from geo_index.fences import Fix
from lbs_service.errors import InvalidInput
from lbs_service.fields import Instant
from lbs_service.schemas import Crs, Lat, Lng

# A phone's clock may run a little fast; a fix dated further ahead is refused: kept, it would escape
# retention and make every later, honest fix look out of order.
MAX_CLOCK_SKEW = timedelta(minutes=5)


class LocationFix(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    lat: Lat
    lng: Lng
    accuracy_m: Annotated[float, Field(ge=0, le=100_000, allow_inf_nan=False)] = 0.0
    ts: Instant = Field(description="ISO-8601 with a time zone, e.g. 2026-11-22T08:00:00Z; not in the future")
    crs: Crs = "wgs84"

    def to_fix(self, now: datetime) -> Fix:
        if self.ts > now + MAX_CLOCK_SKEW:
            raise InvalidInput(f"ts {self.ts.isoformat()} is in the future (the server's time is {now.isoformat()})")
        lat, lng = convert(self.lat, self.lng, parse_datum(self.crs), Datum.WGS84)
        return Fix(lat, lng, self.ts.timestamp(), self.accuracy_m)


class LocationMessage(LocationFix):
    """The user websocket's message: a fix with its type."""

    type: Literal["location"]


class LocationBatch(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    fixes: Annotated[list[LocationFix], Field(min_length=1, max_length=1000)]

    def to_fixes(self, now: datetime) -> list[Fix]:
        return [f.to_fix(now) for f in self.fixes]
