"""Request bodies: strict (no coercion, no extra fields) so bad input is refused, not guessed at."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lbs_service.fields import Address, Label, Name, Phone, ShortText, text_field
from lbs_service.hours import parse_hours, parse_timezone

Lat = Annotated[float, Field(strict=True, ge=-90, le=90, allow_inf_nan=False)]
Lng = Annotated[float, Field(strict=True, ge=-180, le=180, allow_inf_nan=False)]
Crs = Literal["wgs84", "gcj02", "bd09"]
Clock = Annotated[str, text_field(5, 5)]  # "HH:MM", checked by parse_hours
Hours = Annotated[dict[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                       Annotated[list[Annotated[list[Clock], Field(min_length=2, max_length=2)]],
                                 Field(max_length=12)]], Field(max_length=7)]
TimeZone = Annotated[str, text_field(64, 1)]
AttributeValue = Annotated[str, text_field(1000)] | int | float | bool | None
Attributes = Annotated[dict[Annotated[str, text_field(100)], AttributeValue], Field(max_length=50)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _StoreFields(_Strict):
    @field_validator("hours", check_fields=False)
    @classmethod
    def _valid_hours(cls, hours: Hours | None) -> Hours | None:
        parse_hours({str(day): spans for day, spans in hours.items()} if hours is not None else None)
        return hours

    @field_validator("timezone", check_fields=False)
    @classmethod
    def _valid_timezone(cls, name: str | None) -> str | None:
        if name is not None:
            parse_timezone(name)
        return name


class StoreCreate(_StoreFields):
    merchant: Name = "default"
    source_id: Name
    name: ShortText
    category: Label = "store"
    address: Address | None = None
    phone: Phone | None = None
    hours: Hours | None = None
    timezone: TimeZone = "UTC"
    status: Literal["open", "closed"] = "open"
    attributes: Attributes = Field(default_factory=dict)
    lat: Lat
    lng: Lng
    crs: Crs = "wgs84"


class StoreUpdate(_StoreFields):
    name: ShortText | None = None
    category: Label | None = None
    address: Address | None = None
    phone: Phone | None = None
    hours: Hours | None = None
    timezone: TimeZone | None = None
    status: Literal["open", "closed"] | None = None
    attributes: Attributes | None = None
    lat: Lat | None = None
    lng: Lng | None = None
    crs: Crs = "wgs84"
