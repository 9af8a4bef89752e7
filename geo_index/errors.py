"""One exception type per kind of bad input, so callers can map each to a clear message."""


class CoordinateError(ValueError):
    """A latitude or longitude that cannot be used."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        super().__init__(f"{field} {reason} (got {value!r})")
        self.field = field
        self.value = value
        self.reason = reason


class CoordinateWrongType(CoordinateError):
    """Not a real number: a string, a boolean, None, ..."""


class CoordinateNotANumber(CoordinateError):
    """NaN or an infinity."""


class CoordinateOutOfRange(CoordinateError):
    """Latitude outside [-90, 90] or longitude outside [-180, 180]."""


class UnknownDatum(ValueError):
    """A datum name we do not convert from or to."""
