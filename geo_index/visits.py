"""Visits: for each (user, store), the stages nearby -> approaching -> arrived -> left, as a pure
transition function over one user's state and one fix (like fences.step, but vectorised).

Rules, per store, on every accepted fix (the filters of fences.check_fix drop the others):

- A store within `radius_m` that has no visit starts one: stage *nearby* (a visit is what used to be
  a fence entry). In the same fix the rules below apply to it too.
- *nearby*: within `arrive_radius_m` on consecutive fixes for `dwell_s` -> *arrived*. Otherwise, when
  the user moves towards the store (closing speed at least MIN_CLOSING_MPS, from the displacement
  since the oldest fix of the last VELOCITY_WINDOW_S) with an ETA of at most `approach_eta_s`
  -> *approaching*. Arrival is checked first: a fix never does both.
- *approaching*: only the arrival rule applies (a visit does not go back to nearby).
- *arrived*: farther than `arrive_exit_m` -> *left*, with the visit's length (left - arrived).
- *left*: the visit is over but the store is still near; within `arrive_radius_m` for `dwell_s`
  again starts a new visit, arrived at once.
- Any stage: farther than `exit_radius_m` -> the store is forgotten; a visit that had not ended
  ends here (*left*, with its length if it had arrived).

Every visit that is neither arrived nor over also has a demand bucket for the stores' gauge:
ETA under 5, 10 or 15 minutes, or none. Cost per fix: one compiled pass over the user's visits,
plus an index query for the stores that may have come within the radius (stores entering must lie
in the annulus radius - moved .. radius around the new fix).
"""

import functools
import math
from collections import deque
from dataclasses import dataclass, field
from enum import IntEnum, IntFlag
from typing import Any, NamedTuple, Protocol

import numba
import numpy as np
import numpy.typing as npt

from geo_index.fences import Drop, FenceConfig, Fix, check_fix, initial_bearing
from geo_index.sphere import EARTH_RADIUS_M, great_circle_m, unit_vectors

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
VELOCITY_WINDOW_S = 30.0
MIN_MOVE_M = 5.0  # a displacement smaller than this is standing still (GPS jitter)
MIN_CLOSING_MPS = 0.3  # slower than a stroll towards the store: no ETA
ETA_BUCKETS_S = (300.0, 600.0, 900.0)  # the gauge's 5 / 10 / 15 minutes


class Stage(IntEnum):
    NEARBY = 1
    APPROACHING = 2
    ARRIVED = 3
    LEFT = 4


class Change(IntFlag):
    STARTED = 1  # a new visit (nearby)
    APPROACHING = 2
    ARRIVED = 4
    LEFT = 8  # the visit ended (after arriving, or without)
    FORGOTTEN = 16  # past the exit radius: no longer tracked
    RESTARTED = 32  # a visit that had left became a new one, arrived at once


@dataclass(frozen=True)
class VisitRules:
    """The radii, dwell and ETA that decide a visit's stages, and the fix filters in front of them."""
    radius_m: float = 1000.0
    exit_radius_m: float = 1100.0
    arrive_radius_m: float = 80.0
    arrive_exit_m: float = 120.0
    dwell_s: float = 0.0
    approach_eta_s: float = 600.0
    max_accuracy_m: float = 0.0
    max_speed_mps: float = 0.0

    def __post_init__(self) -> None:
        if not 0 < self.arrive_radius_m <= self.radius_m <= self.exit_radius_m:
            raise ValueError("need 0 < arrive radius <= fence radius <= exit radius")
        if not self.arrive_radius_m <= self.arrive_exit_m <= self.exit_radius_m:
            raise ValueError("need arrive radius <= arrive exit radius <= exit radius")
        if min(self.dwell_s, self.approach_eta_s, self.max_accuracy_m, self.max_speed_mps) < 0:
            raise ValueError("durations and limits cannot be negative")

    @classmethod
    def default_arrive_exit(cls, arrive_radius_m: float, exit_radius_m: float) -> float:
        """Hysteresis for leaving a store: half the arrive radius (at least 20 m), never past the fence's exit."""
        return min(exit_radius_m, max(arrive_radius_m + 20.0, arrive_radius_m * 1.5))

    @property
    def filters(self) -> FenceConfig:
        return FenceConfig(self.radius_m, self.exit_radius_m, 0.0, self.max_accuracy_m, self.max_speed_mps)


class VisitEvent(NamedTuple):
    """A visit's change on one fix. A tuple, not a frozen dataclass: a user entering a dense district
    starts tens of visits per fix, and a frozen dataclass took a microsecond and a half to build."""

    store_id: int
    change: Change
    stage: Stage
    distance_m: float
    eta_s: float | None
    dwell_s: float | None  # the visit's length, on LEFT after an arrival


@dataclass(frozen=True)
class Step:
    events: list[VisitEvent]
    dropped: Drop | None = None
    buckets: list[tuple[int, int, int]] = field(default_factory=list)  # (store id, old, new) gauge buckets


@dataclass
class VisitState:
    """One user's visits, as columns sorted by store id, and the recent fixes for speed and heading."""

    ids: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    xyz: FloatArray = field(default_factory=lambda: np.empty((0, 3)))
    stage: npt.NDArray[np.int8] = field(default_factory=lambda: np.empty(0, np.int8))
    started: FloatArray = field(default_factory=lambda: np.empty(0))
    dwell_from: FloatArray = field(default_factory=lambda: np.empty(0))
    arrived: FloatArray = field(default_factory=lambda: np.empty(0))
    bucket: npt.NDArray[np.int8] = field(default_factory=lambda: np.empty(0, np.int8))
    recent: deque[Fix] = field(default_factory=deque)
    last: Fix | None = None
    index_version: int = -1  # the store index's version the tracked stores were taken from

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, ids: IntArray, xyz: FloatArray) -> None:
        """Track new stores (not yet tracked; stage 0 until the next step starts their visits)."""
        if not len(ids):
            return
        order = np.argsort(ids)
        ids, xyz = ids[order], xyz[order]
        old = len(self.ids)
        fresh = np.searchsorted(self.ids, ids) + np.arange(len(ids))  # where each new one lands
        kept = np.ones(old + len(ids), dtype=np.bool_)
        kept[fresh] = False  # ... and where the tracked ones go (in order, around them)

        def merged(column: npt.NDArray[Any], new: npt.NDArray[Any] | float) -> npt.NDArray[Any]:
            out = np.empty((old + len(ids), *column.shape[1:]), dtype=column.dtype)
            out[kept], out[fresh] = column, new
            return out

        self.ids, self.xyz = merged(self.ids, ids), merged(self.xyz, xyz)
        self.stage, self.bucket = merged(self.stage, 0), merged(self.bucket, -1)
        self.started, self.dwell_from = merged(self.started, np.nan), merged(self.dwell_from, np.nan)
        self.arrived = merged(self.arrived, np.nan)

    def buckets(self) -> list[tuple[int, int]]:
        """(store id, gauge bucket) of every visit that counts in a gauge."""
        return [(int(i), int(b)) for i, b in zip(self.ids.tolist(), self.bucket.tolist(), strict=True) if b >= 0]

    def keep(self, mask: npt.NDArray[np.bool_]) -> None:
        for name in ("ids", "xyz", "stage", "started", "dwell_from", "arrived", "bucket"):
            setattr(self, name, getattr(self, name)[mask])

    def tracks(self, ids: IntArray) -> npt.NDArray[np.bool_]:
        if not len(self.ids):
            return np.zeros(len(ids), dtype=np.bool_)
        at = np.clip(np.searchsorted(self.ids, ids), 0, len(self.ids) - 1)
        return np.asarray(self.ids[at] == ids)

    def moved_since_last(self, fix: Fix) -> float:
        return math.inf if self.last is None else great_circle_m(self.last.lat, self.last.lng, fix.lat, fix.lng)


def velocity(recent: deque[Fix], fix: Fix) -> tuple[float, float] | None:
    """(speed m/s, heading radians from north) from the oldest recent fix in the window to `fix`;
    None when there is no such fix. A displacement under MIN_MOVE_M is standing still."""
    for earlier in recent:
        if fix.ts - VELOCITY_WINDOW_S <= earlier.ts < fix.ts:
            moved = great_circle_m(earlier.lat, earlier.lng, fix.lat, fix.lng)
            if moved < MIN_MOVE_M:
                return 0.0, 0.0
            return moved / (fix.ts - earlier.ts), initial_bearing(earlier.lat, earlier.lng, fix.lat, fix.lng)
    return None


@numba.njit(cache=True, nogil=True)
def _advance(ids: IntArray, xyz: FloatArray, stage: npt.NDArray[np.int8], started: FloatArray,
             dwell_from: FloatArray, arrived: FloatArray, bucket: npt.NDArray[np.int8], fix_lat: float,
             fix_lng: float, ts: float, has_velocity: bool, speed: float, heading: float, exit_angle: float,
             arrive_angle: float, arrive_exit_angle: float, dwell_s: float, approach_eta_s: float,
             out_change: npt.NDArray[np.int32], out_distance: FloatArray, out_eta: FloatArray,
             out_dwell: FloatArray) -> int:
    """One fix over every tracked store, in place; returns how many changed (see the module rules)."""
    phi, lam = math.radians(fix_lat), math.radians(fix_lng)
    qx, qy, qz = math.cos(phi) * math.cos(lam), math.cos(phi) * math.sin(lam), math.sin(phi)
    changed = 0
    for i in range(ids.size):
        px, py, pz = xyz[i, 0], xyz[i, 1], xyz[i, 2]
        dot = px * qx + py * qy + pz * qz
        cx, cy, cz = py * qz - pz * qy, pz * qx - px * qz, px * qy - py * qx
        angle = math.atan2(math.sqrt(cx * cx + cy * cy + cz * cz), dot)
        distance = angle * EARTH_RADIUS_M
        change = 0
        out_eta[i] = math.nan
        out_dwell[i] = math.nan
        s = stage[i]
        if s == 0:  # entering the fence: a new visit
            stage[i] = 1
            started[i] = ts
            dwell_from[i] = math.nan
            arrived[i] = math.nan
            s = 1
            change |= 1
        if angle > exit_angle:
            if s == 1 or s == 2 or s == 3:
                change |= 8
                if s == 3:
                    out_dwell[i] = ts - arrived[i]
            change |= 16
            stage[i] = -1
            bucket[i] = -1
        elif s == 1 or s == 2 or s == 4:
            if angle <= arrive_angle:
                if math.isnan(dwell_from[i]):
                    dwell_from[i] = ts
                if ts - dwell_from[i] >= dwell_s:
                    if s == 4:
                        change |= 32
                        started[i] = ts
                    stage[i] = 3
                    arrived[i] = ts
                    dwell_from[i] = math.nan
                    change |= 4
            else:
                dwell_from[i] = math.nan
            if stage[i] == 1 or stage[i] == 2:
                bucket[i] = 0
                if has_velocity and speed > 0.0:
                    # Bearing from the fix to the store, on the sphere.
                    store_phi = math.atan2(pz, math.sqrt(px * px + py * py))
                    store_lam = math.atan2(py, px)
                    dl = store_lam - lam
                    y = math.sin(dl) * math.cos(store_phi)
                    x = math.cos(phi) * math.sin(store_phi) - math.sin(phi) * math.cos(store_phi) * math.cos(dl)
                    closing = speed * math.cos(math.atan2(y, x) - heading)
                    if closing >= MIN_CLOSING_MPS:
                        eta = distance / closing
                        out_eta[i] = eta
                        five, ten, fifteen = ETA_BUCKETS_S
                        bucket[i] = 1 if eta < five else 2 if eta < ten else 3 if eta < fifteen else 0
                        if stage[i] == 1 and eta <= approach_eta_s:
                            stage[i] = 2
                            change |= 2
            else:
                bucket[i] = -1
        elif s == 3:
            bucket[i] = -1
            if angle > arrive_exit_angle:
                stage[i] = 4
                change |= 8
                out_dwell[i] = ts - arrived[i]
        out_change[i] = change
        out_distance[i] = distance
        if change:
            changed += 1
    return changed


def step(rules: VisitRules, state: VisitState, fix: Fix, entering_ids: IntArray, entering_xyz: FloatArray) -> Step:
    """Advance `state` (in place) by one fix.

    `entering_ids`/`entering_xyz`: the stores within `radius_m` of the fix that the state does not
    track yet (callers may pass more: tracked ones are ignored, farther ones must not be passed).
    Returns the visits' events (nearest first), why the fix was dropped (if it was), and the visits
    whose gauge bucket changed.
    """
    dropped = check_fix(rules.filters, state.last, fix)
    if dropped is not None:
        return Step([], dropped)
    if len(entering_ids):
        fresh = ~state.tracks(entering_ids)
        state.add(entering_ids[fresh], entering_xyz[fresh])
    moving = velocity(state.recent, fix)
    n = len(state)
    changes = np.zeros(n, dtype=np.int32)
    distances, etas, dwells = np.empty(n), np.empty(n), np.empty(n)
    speed, heading = moving if moving is not None else (0.0, 0.0)
    old_buckets = state.bucket.copy()
    changed = _advance(state.ids, state.xyz, state.stage, state.started, state.dwell_from, state.arrived,
                       state.bucket, fix.lat, fix.lng, fix.ts, moving is not None, speed, heading,
                       rules.exit_radius_m / EARTH_RADIUS_M, rules.arrive_radius_m / EARTH_RADIUS_M,
                       rules.arrive_exit_m / EARTH_RADIUS_M, rules.dwell_s, rules.approach_eta_s, changes, distances,
                       etas, dwells)
    events = _events(state, changes, distances, etas, dwells) if changed else []
    moved = np.flatnonzero(old_buckets != state.bucket)
    buckets = [(int(state.ids[i]), int(old_buckets[i]), int(state.bucket[i])) for i in moved.tolist()]
    if changed and (changes & Change.FORGOTTEN).any():
        state.keep(state.stage >= 0)
    _remember(state, fix)
    return Step(events, None, buckets)


class StoreSource(Protocol):
    """What tracking needs of a store index (RadiusIndex): the stores in an annulus, and a version."""

    version: int

    def annulus(self, lat: float, lng: float, inner_m: float, outer_m: float) -> tuple[IntArray, FloatArray]: ...
    def position(self, store_id: int) -> tuple[float, float] | None: ...


def track(rules: VisitRules, state: VisitState, fix: Fix, stores: StoreSource) -> Step:
    """One fix, with the entering stores found in `stores`: only the thin annulus a move can have
    brought within the radius, or the whole disk after the first fix or a change of the stores."""
    gone: list[tuple[int, int, int]] = []
    if state.index_version != stores.version:
        gone = follow_store_changes(state, stores)
        moved = math.inf
    else:
        moved = state.moved_since_last(fix)
    inner = max(0.0, rules.radius_m - moved - 1.0) if moved < rules.radius_m else -1.0  # 1 m slack: rounding
    ids, xyz = stores.annulus(fix.lat, fix.lng, inner, rules.radius_m)
    result = step(rules, state, fix, ids, xyz)
    return Step(result.events, result.dropped, gone + result.buckets) if gone else result


def follow_store_changes(state: VisitState, stores: StoreSource) -> list[tuple[int, int, int]]:
    """The stores changed: forget tracked stores that are gone, take moved ones where they are now.
    Returns the gauge buckets of the visits forgotten, as (store id, bucket, -1)."""
    positions = [stores.position(int(store_id)) for store_id in state.ids.tolist()]
    kept = np.array([p is not None for p in positions], dtype=np.bool_)
    gone: list[tuple[int, int, int]] = []
    if len(kept) and not kept.all():
        gone = [(int(i), int(b), -1) for i, b, k in zip(state.ids.tolist(), state.bucket.tolist(), kept.tolist(),
                                                         strict=True) if not k and b >= 0]
        state.keep(kept)
    found = [p for p in positions if p is not None]
    if found:
        lats = np.array([p[0] for p in found])
        lngs = np.array([p[1] for p in found])
        state.xyz = store_vectors(lats, lngs)
    state.index_version = stores.version
    return gone


# Making an enum member from its value costs a microsecond or two; there are at most 64 of them.
_change_of = functools.cache(Change)
_stage_of = functools.cache(Stage)


def _events(state: VisitState, changes: npt.NDArray[np.int32], distances: FloatArray, etas: FloatArray,
            dwells: FloatArray) -> list[VisitEvent]:
    """The changed visits, nearest first (ties by store id); gathered column by column, then built."""
    at = np.flatnonzero(changes)
    at = at[np.lexsort((state.ids[at], distances[at]))]
    isnan = math.isnan
    return [VisitEvent(store_id, _change_of(change), _stage_of(stage) if stage > 0 else Stage.LEFT, distance,
                       None if isnan(eta) else eta, None if isnan(dwell) else dwell)
            for store_id, change, stage, distance, eta, dwell in zip(
                state.ids[at].tolist(), changes[at].tolist(), state.stage[at].tolist(), distances[at].tolist(),
                etas[at].tolist(), dwells[at].tolist(), strict=True)]


def _remember(state: VisitState, fix: Fix) -> None:
    state.last = fix
    state.recent.append(fix)
    while state.recent and state.recent[0].ts < fix.ts - VELOCITY_WINDOW_S:
        state.recent.popleft()


def store_vectors(lats: FloatArray, lngs: FloatArray) -> FloatArray:
    """Stores as unit vectors, the form the state keeps them in."""
    return np.ascontiguousarray(np.column_stack(unit_vectors(lats, lngs))).reshape(len(lats), 3)
