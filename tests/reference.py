"""Brute-force references, written independently of geo_index (plain haversine, API.md's radius)."""

import math
import os
from pathlib import Path

import numpy as np

R_API = 6_371_008.8
SHARED_DATA = Path(os.environ.get("LBS_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def haversine_m(lat1, lng1, lat2, lng2):
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lng2) - lng1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * R_API * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def brute_force(lat, lng, lats, lngs, ids, radius_m, margin_m=1e-6):
    """Ids within radius (ordered by distance, then id) and their distances.

    Stores closer than margin_m to the circle are reported separately: on them two correct
    engines on slightly different sphere radii may legitimately differ.
    """
    d = haversine_m(lat, lng, lats, lngs)
    inside = np.flatnonzero(d <= radius_m)
    order = inside[np.lexsort((ids[inside], d[inside]))]
    edge = set(ids[np.flatnonzero(np.abs(d - radius_m) <= margin_m)].tolist())
    return ids[order], d[order], edge


def math_haversine_m(lat1, lng1, lat2, lng2):
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lng2 - lng1) / 2) ** 2
    return 2 * R_API * math.asin(math.sqrt(a))


def need_shared(name: str) -> Path:
    import pytest

    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"real data {path} is absent (see shared/data/README.md); this test needs it")
    return path


def visit_replay(rules, stores, fixes):
    """The visit rules of geo_index/visits.py replayed by brute force: every store, every fix, plain
    Python. `stores` is [(id, lat, lng)], `fixes` geo_index Fix objects. Returns (fix number, store id,
    change names, stage name) for every change, in fix order and then nearest first."""
    state = {}  # store id -> [stage, started, dwell_from, arrived]
    last, recent, out = None, [], []
    for n, fix in enumerate(fixes):
        if last is not None and fix.ts < last.ts:
            continue
        if rules.max_accuracy_m and fix.accuracy_m > rules.max_accuracy_m:
            continue
        if rules.max_speed_mps and last is not None:
            moved = math_haversine_m(last.lat, last.lng, fix.lat, fix.lng)
            if moved > rules.max_speed_mps * max(fix.ts - last.ts, 0.0) + fix.accuracy_m + last.accuracy_m:
                continue
        moving = _reference_velocity(recent, fix)
        changes = []
        for store_id, lat, lng in stores:
            d = math_haversine_m(fix.lat, fix.lng, lat, lng)
            visit = state.get(store_id)
            names = []
            if visit is None:
                if d > rules.radius_m:
                    continue
                visit = state[store_id] = [1, fix.ts, None, None]
                names.append("started")
            stage = visit[0]
            if d > rules.exit_radius_m:
                if stage in (1, 2, 3):
                    names.append("left")
                names.append("forgotten")
                del state[store_id]
                changes.append((d, store_id, names, "left"))
                continue
            if stage in (1, 2, 4):
                if d <= rules.arrive_radius_m:
                    visit[2] = fix.ts if visit[2] is None else visit[2]
                    if fix.ts - visit[2] >= rules.dwell_s:
                        if stage == 4:
                            names.append("restarted")
                        visit[0], visit[3], visit[2] = 3, fix.ts, None
                        names.append("arrived")
                else:
                    visit[2] = None
                if visit[0] == 1 and moving is not None and moving[0] > 0:
                    closing = moving[0] * math.cos(_bearing(fix.lat, fix.lng, lat, lng) - moving[1])
                    if closing >= 0.3 and d / closing <= rules.approach_eta_s:
                        visit[0] = 2
                        names.append("approaching")
            elif stage == 3 and d > rules.arrive_exit_m:
                visit[0] = 4
                names.append("left")
            if names:
                changes.append((d, store_id, names, ["", "nearby", "approaching", "arrived", "left"][visit[0]]))
        out += [(n, store_id, names, stage) for _, store_id, names, stage in sorted(changes)]
        last = fix
        recent = [f for f in [*recent, fix] if f.ts >= fix.ts - 30.0]
    return out


def _bearing(lat1, lng1, lat2, lng2):
    p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lng2 - lng1)
    y = math.sin(dl) * math.cos(p2)
    return math.atan2(y, math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl))


def _reference_velocity(recent, fix):
    for earlier in recent:
        if fix.ts - 30.0 <= earlier.ts < fix.ts:
            moved = math_haversine_m(earlier.lat, earlier.lng, fix.lat, fix.lng)
            if moved < 5.0:
                return 0.0, 0.0
            return moved / (fix.ts - earlier.ts), _bearing(earlier.lat, earlier.lng, fix.lat, fix.lng)
    return None
