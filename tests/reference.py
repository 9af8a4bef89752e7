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
