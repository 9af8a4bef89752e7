"""A location fix as clients send it, validated strictly and turned into a WGS-84 fence fix."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from geo_index import Datum, convert, parse_datum
from geo_index.fences import Fix
from lbs_service.schemas import Crs, Lat, Lng, Timestamp


class LocationFix(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    lat: Lat
    lng: Lng
    accuracy_m: Annotated[float, Field(ge=0, le=100_000, allow_inf_nan=False)] = 0.0
    ts: Timestamp = Field(description="ISO-8601 with a time zone, e.g. 2026-11-22T08:00:00Z")
    crs: Crs = "wgs84"

    def to_fix(self) -> Fix:
        lat, lng = convert(self.lat, self.lng, parse_datum(self.crs), Datum.WGS84)
        return Fix(lat, lng, self.ts.timestamp(), self.accuracy_m)


class LocationMessage(LocationFix):
    """The user websocket's message: a fix with its type."""

    type: Literal["location"]


class LocationBatch(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    fixes: Annotated[list[LocationFix], Field(min_length=1, max_length=1000)]
