"""The shared types every request field and query parameter is built from.

Bad input is refused here, at the edge, once: strings without NUL (PostgreSQL cannot store one;
pydantic itself refuses lone surrogates), bounded in length; integers that fit the column they go
to; instants that are real and convertible (no year 0 or 10000 after a time-zone shift); store ids
as the integer or the string of digits that nearby hands out. tests/service/test_input_bounds.py
walks the OpenAPI document and fails for any field that is not bounded this way.
"""

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, WithJsonSchema

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
# Instants outside these bounds are refused: anything else is a typo or an attack, and the bounds
# keep every conversion (time zones, timestamps, calendar months) inside what datetime can hold.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
NO_NUL_PATTERN = "^[^\\u0000]*$"


def text_field(max_length: int, min_length: int = 0, **extra: Any) -> Any:
    """Length bounds and the no-NUL rule, enforced and written into the OpenAPI document."""
    return Field(min_length=min_length, max_length=max_length, pattern=NO_NUL_PATTERN, **extra)


# Strings, by what they hold. A field that needs another length is Annotated[str, text_field(n)].
Name = Annotated[str, text_field(200, 1)]
ShortText = Annotated[str, text_field(300, 1)]
LongText = Annotated[str, text_field(2000)]
Label = Annotated[str, text_field(64, 1)]  # category names, district codes, utility kinds
Code = Annotated[str, text_field(2000, 4)]  # a coupon or pickup code, or a scanned QR payload
Key = Annotated[str, text_field(200, 1)]  # Idempotency-Key values, token subjects
Address = Annotated[str, text_field(500)]
Phone = Annotated[str, text_field(50)]


def _real_instant(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError("not a representable instant") from None
    if not EARLIEST <= utc < LATEST:
        raise ValueError(f"instants lie between {EARLIEST.date()} and {LATEST.date()}")
    return utc


# Strict models would refuse ISO-8601 strings once FastAPI has parsed the JSON: instants alone are
# read leniently from text, and must still carry a time zone.
Instant = Annotated[
    AwareDatetime,
    Field(strict=False, json_schema_extra={"x-earliest": EARLIEST.isoformat(), "x-latest": LATEST.isoformat()}),
    AfterValidator(_real_instant),
]

# A calendar month (YYYY-MM) in the years instants may have.
MONTH_PATTERN = "^(19[7-9][0-9]|2[01][0-9][0-9])-(0[1-9]|1[0-2])$"
Month = Annotated[str, Field(pattern=MONTH_PATTERN, min_length=7, max_length=7, description="YYYY-MM")]

Int32 = Annotated[int, Field(ge=-INT32_MAX - 1, le=INT32_MAX)]
# Money in whole cents: far above any basket or bill, far below what a 64-bit sum of them could overflow.
MAX_CENTS = 10**12
Cents = Annotated[int, Field(ge=0, le=MAX_CENTS)]
RowId = Annotated[int, Field(ge=1, le=INT64_MAX)]


def _digits_to_int(value: object) -> object:
    if isinstance(value, str) and value.isascii() and value.isdigit() and 0 < len(value) <= 19:
        return int(value)
    return value


# Nearby returns a store's id as a string (GeoJSON feature ids); wherever a store is named, the
# integer and that string are the same store.
StoreId = Annotated[
    int,
    BeforeValidator(_digits_to_int),
    Field(ge=1, le=INT64_MAX),
    WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 1, "maximum": INT64_MAX},
                              {"type": "string", "pattern": "^[0-9]{1,19}$", "maxLength": 19}]}),
]
