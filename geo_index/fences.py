"""The fence state machine of API.md as a pure transition function: (state, fix, nearby stores) -> events.

Per (user, store) a fence is outside, pending (inside the radius, waiting out the dwell time) or
inside. A fix within `radius_m` starts or continues the dwell and, once it has lasted `dwell_s`
of consecutive inside fixes, moves the fence inside with one `enter` event. Only a fix farther
than `exit_radius_m` moves it back outside; between the two radii nothing changes for a fence
that is inside (hysteresis), while a pending dwell is broken. Fixes that are older than the
last accepted one, less accurate than `max_accuracy_m` or that imply a speed above
`max_speed_mps` are dropped (0 switches those two filters off).

Cost per fix is proportional to the stores near the user plus the fences the user is in, never
to the number of stores.
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from geo_index.sphere import great_circle_m


@dataclass(frozen=True)
class FenceConfig:
    radius_m: float = 1000.0
    exit_radius_m: float = 1100.0
    dwell_s: float = 0.0
    max_accuracy_m: float = 0.0  # 0: no accuracy filter
    max_speed_mps: float = 0.0  # 0: no speed filter

    def __post_init__(self) -> None:
        if not (self.radius_m > 0 and self.exit_radius_m >= self.radius_m):
            raise ValueError("need 0 < radius_m <= exit_radius_m")
        if min(self.dwell_s, self.max_accuracy_m, self.max_speed_mps) < 0:
            raise ValueError("dwell, accuracy and speed limits cannot be negative")


@dataclass(frozen=True)
class Fix:
    lat: float
    lng: float
    ts: float  # seconds since the epoch
    accuracy_m: float = 0.0


class Drop(StrEnum):
    OUT_OF_ORDER = "out_of_order"
    INACCURATE = "inaccurate"
    TOO_FAST = "too_fast"


@dataclass(frozen=True)
class Enter:
    store_id: int
    distance_m: float


@dataclass(frozen=True)
class Exit:
    store_id: int
    distance_m: float | None  # None when the store is past the exit radius (not measured further)


@dataclass
class UserFences:
    """One user's fence state: the last accepted fix, fences inside, and dwell timers started."""

    last: Fix | None = None
    previous: Fix | None = None  # the accepted fix before `last`, for speed and heading
    inside: set[int] = field(default_factory=set)
    pending: dict[int, float] = field(default_factory=dict)  # store -> ts of the first inside fix


@dataclass(frozen=True)
class Step:
    events: list[Enter | Exit]
    dropped: Drop | None = None


def check_fix(config: FenceConfig, last: Fix | None, fix: Fix) -> Drop | None:
    """Why this fix must be dropped (given the last accepted fix), or None to accept it."""
    if last is not None and fix.ts < last.ts:
        return Drop.OUT_OF_ORDER
    if config.max_accuracy_m and fix.accuracy_m > config.max_accuracy_m:
        return Drop.INACCURATE
    if config.max_speed_mps and last is not None:
        elapsed = fix.ts - last.ts
        moved = great_circle_m(last.lat, last.lng, fix.lat, fix.lng)
        if moved > config.max_speed_mps * max(elapsed, 0.0) + fix.accuracy_m + last.accuracy_m:
            return Drop.TOO_FAST
    return None


def step(config: FenceConfig, state: UserFences, fix: Fix, nearby: Iterable[tuple[int, float]]) -> Step:
    """Advance `state` (in place) by one fix.

    `nearby` must hold every store within `config.exit_radius_m` of the fix, with its distance.
    """
    dropped = check_fix(config, state.last, fix)
    if dropped is not None:
        return Step([], dropped)
    events: list[Enter | Exit] = []
    distances = dict(nearby)
    within = {store for store, d in distances.items() if d <= config.radius_m}
    for store in list(state.inside):
        if store not in distances:  # past the exit radius
            state.inside.discard(store)
            events.append(Exit(store, None))
    for store in list(state.pending):
        if store not in within:  # the consecutive run of inside fixes is broken
            del state.pending[store]
    for store in sorted(within - state.inside, key=lambda s: (distances[s], s)):
        started = state.pending.setdefault(store, fix.ts)
        if fix.ts - started >= config.dwell_s:
            del state.pending[store]
            state.inside.add(store)
            events.append(Enter(store, distances[store]))
    state.previous, state.last = state.last, fix
    return Step(events)


def velocity(state: UserFences) -> tuple[float, float] | None:
    """(speed m/s, heading radians from north) from the last two accepted fixes, if they moved."""
    a, b = state.previous, state.last
    if a is None or b is None or b.ts <= a.ts:
        return None
    distance = great_circle_m(a.lat, a.lng, b.lat, b.lng)
    if distance < 1.0:
        return 0.0, 0.0
    return distance / (b.ts - a.ts), initial_bearing(a.lat, a.lng, b.lat, b.lng)


def initial_bearing(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lng2 - lng1)
    y = math.sin(dl) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.atan2(y, x)


def eta_s(state: UserFences, store_lat: float, store_lng: float, distance_m: float) -> float | None:
    """Seconds until arrival at the current closing speed, or None if not closing in."""
    moving = velocity(state)
    if moving is None or state.last is None:
        return None
    speed, heading = moving
    bearing = initial_bearing(state.last.lat, state.last.lng, store_lat, store_lng)
    closing = speed * math.cos(bearing - heading)
    if closing < 0.3:  # slower than a stroll towards the store: no meaningful estimate
        return None
    return distance_m / closing
