"""The service's sense of "now", injectable.

Every decision that depends on the date (is a campaign running, which local day a cap counts,
when an unpaid order expires, how old data is) reads `now` from one clock handed down from the
app, so a test can run the whole service at a fixed instant and a replay can run it at the
recording's time. Security timestamps (token `iat`/`exp`, QR expiry) stay on the wall clock:
they must mean what the rest of the world means.
"""

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def clock_from(start: datetime) -> Clock:
    """A clock that reads `start` now and then advances at the pace of real time."""
    if start.tzinfo is None:
        raise ValueError("the start of a clock needs a time zone")
    origin = time.monotonic()

    def now() -> datetime:
        return start + timedelta(seconds=time.monotonic() - origin)

    return now
