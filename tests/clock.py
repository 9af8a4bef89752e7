"""The one instant every test builds its times from: no test reads today's date (test_no_wall_clock.py).

Servers under test run on a clock that starts at T0 and advances in real time (lbs_service.clock),
so campaigns, caps, quiet hours and reports are decided at the same instants next year as today.
"""

from datetime import UTC, datetime, timedelta

from lbs_service.clock import Clock, clock_from

T0 = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # a Monday, noon in Shanghai
TIERS = {"silver": 3, "gold": 10}  # the member tiers the service ships with
WIDE = {"starts_at": "2000-01-01T00:00:00Z", "ends_at": "2199-01-01T00:00:00Z"}  # a window around any T0


def at(seconds: float = 0.0) -> datetime:
    return T0 + timedelta(seconds=seconds)


def iso(seconds: float = 0.0) -> str:
    return at(seconds).isoformat()


def fixed_clock(start: datetime = T0) -> Clock:
    """A service clock that reads `start` at creation and advances with real time."""
    return clock_from(start)
