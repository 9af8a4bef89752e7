"""Request bodies: strict (no coercion, no extra fields) so bad input is refused, not guessed at."""

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from lbs_service.hours import parse_hours, parse_timezone

Lat = Annotated[float, Field(strict=True, ge=-90, le=90, allow_inf_nan=False)]
Lng = Annotated[float, Field(strict=True, ge=-180, le=180, allow_inf_nan=False)]
Crs = Literal["wgs84", "gcj02", "bd09"]
# Strict models would refuse ISO-8601 strings for datetimes once FastAPI has parsed the JSON:
# timestamps alone are read leniently, and must still carry a time zone.
Timestamp = Annotated[AwareDatetime, Field(strict=False)]
Hours = dict[str, list[list[str]]]  # {"mon": [["09:00", "18:00"]]}; checked by parse_hours
ShortText = Annotated[str, Field(min_length=1, max_length=300)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _StoreFields(_Strict):
    @field_validator("hours", check_fields=False)
    @classmethod
    def _valid_hours(cls, hours: Hours | None) -> Hours | None:
        parse_hours(hours)
        return hours

    @field_validator("timezone", check_fields=False)
    @classmethod
    def _valid_timezone(cls, name: str | None) -> str | None:
        if name is not None:
            parse_timezone(name)
        return name


class StoreCreate(_StoreFields):
    merchant: Annotated[str, Field(min_length=1, max_length=200)] = "default"
    source_id: Annotated[str, Field(min_length=1, max_length=200)]
    name: ShortText
    category: Annotated[str, Field(min_length=1, max_length=100)] = "store"
    address: Annotated[str, Field(max_length=500)] | None = None
    phone: Annotated[str, Field(max_length=50)] | None = None
    hours: Hours | None = None
    timezone: str = "UTC"
    status: Literal["open", "closed"] = "open"
    attributes: dict[str, Any] = Field(default_factory=dict)
    lat: Lat
    lng: Lng
    crs: Crs = "wgs84"


class StoreUpdate(_StoreFields):
    name: ShortText | None = None
    category: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    address: Annotated[str, Field(max_length=500)] | None = None
    phone: Annotated[str, Field(max_length=50)] | None = None
    hours: Hours | None = None
    timezone: str | None = None
    status: Literal["open", "closed"] | None = None
    attributes: dict[str, Any] | None = None
    lat: Lat | None = None
    lng: Lng | None = None
    crs: Crs = "wgs84"
