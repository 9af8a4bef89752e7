"""Seeded synthetic stores clustered like Chinese cities: dense cores, district sub-centres, a long
halo and a little countryside. Users are drawn from the same distribution."""

import numpy as np
import numpy.typing as npt

# (lat, lng, weight): 22 city centres, WGS-84.
CITIES = (
    (31.23, 121.47, 10), (39.91, 116.40, 9), (23.13, 113.26, 7), (22.54, 114.06, 7), (30.57, 104.07, 6),
    (30.27, 120.16, 6), (29.56, 106.55, 5), (30.59, 114.31, 5), (34.34, 108.94, 4), (32.06, 118.80, 5),
    (39.13, 117.20, 4), (36.07, 120.38, 3), (38.04, 114.51, 3), (34.75, 113.63, 4), (28.23, 112.94, 3),
    (41.80, 123.43, 3), (45.80, 126.53, 2), (26.07, 119.30, 3), (25.04, 102.71, 2), (24.48, 118.09, 2),
    (31.82, 117.23, 3), (36.65, 117.12, 3),
)


def clustered_points(n: int, seed: int) -> npt.NDArray[np.float64]:
    """n (lat, lng) rows: 55 % dense cores, 30 % district sub-centres, 14 % halo, 1 % rural.

    Tuned so 1 km around a user holds about as many stores as PERFORMANCE.md measured
    (at 1M: mean ~940, p50 ~500, p99 ~4,900 here; there 1,112 / 571 / 5,111).
    """
    rng = np.random.default_rng(seed)
    weights = np.array([c[2] for c in CITIES], dtype=np.float64)
    centres = np.array([(c[0], c[1]) for c in CITIES])
    city = rng.choice(len(CITIES), n, p=weights / weights.sum())
    kind = rng.choice(4, n, p=[0.55, 0.30, 0.14, 0.01])
    base = centres[city].copy()
    # District sub-centres: eight per city at fixed offsets (seeded), each a smaller core.
    sub_rng = np.random.default_rng(seed + 1)
    sub_offsets = sub_rng.normal(0, 0.12, (len(CITIES), 8, 2))
    sub = sub_offsets[city, rng.integers(0, 8, n)]
    spread = np.choose(kind, [0.022, 0.009, 0.09, 0.0])[:, None]
    points = base + np.where(kind[:, None] == 1, sub, 0.0) + rng.normal(0, 1, (n, 2)) * spread
    rural = kind == 3
    points[rural] = np.column_stack((rng.uniform(22, 45, rural.sum()), rng.uniform(98, 125, rural.sum())))
    return np.asarray(points, dtype=np.float64)
