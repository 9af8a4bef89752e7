"""Where to open the next outlets: greedy maximum coverage of uncovered demand.

Each candidate site (a cell centre) covers the demand cells whose centres lie within the radius;
the greedy pick takes the site covering the most still-uncovered demand, marks it covered, and
repeats. Greedy is within 1 - 1/e of the best possible choice of k sites and is what planners
can follow step by step.
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from geo_index.sphere import great_circle_many_m


@dataclass(frozen=True)
class Site:
    lat: float
    lng: float
    gained: int  # uncovered demand this site covers, given the ones picked before it


def suggest_sites(
    candidate_lats: npt.NDArray[np.float64],
    candidate_lngs: npt.NDArray[np.float64],
    demand_lats: npt.NDArray[np.float64],
    demand_lngs: npt.NDArray[np.float64],
    demand: npt.NDArray[np.int64],
    radius_m: float,
    count: int,
) -> list[Site]:
    if not len(candidate_lats) or not len(demand):
        return []
    covers = np.stack([great_circle_many_m(float(a), float(b), demand_lats, demand_lngs) <= radius_m
                       for a, b in zip(candidate_lats, candidate_lngs, strict=True)])
    remaining = demand.astype(np.int64).copy()
    sites: list[Site] = []
    for _ in range(count):
        gains = covers @ remaining
        best = int(np.argmax(gains))
        if gains[best] <= 0:
            break
        sites.append(Site(float(candidate_lats[best]), float(candidate_lngs[best]), int(gains[best])))
        remaining[covers[best]] = 0
    return sites
