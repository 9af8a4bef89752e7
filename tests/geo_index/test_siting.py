import itertools

import numpy as np

from geo_index.siting import suggest_sites


def test_greedy_takes_the_biggest_uncovered_demand_first_and_never_counts_twice():
    # Two demand clusters 10 km apart: 9 users around (0, 0), 4 around (0, 0.09); radius 1 km.
    demand_lats = np.array([0.0, 0.001, -0.001, 0.0, 0.0])
    demand_lngs = np.array([0.0, 0.0, 0.0, 0.09, 0.0905])
    demand = np.array([5, 2, 2, 3, 1])
    candidates = np.array([[0.0, 0.0], [0.0, 0.09], [0.0, 0.0005], [5.0, 5.0]])
    sites = suggest_sites(candidates[:, 0], candidates[:, 1], demand_lats, demand_lngs, demand, 1000.0, 5)
    assert [(s.lat, s.lng, s.gained) for s in sites] == [(0.0, 0.0, 9), (0.0, 0.09, 4)]  # then nothing left


def test_greedy_is_optimal_on_small_random_cases_within_its_bound():
    rng = np.random.default_rng(3)
    for _ in range(30):
        d_lat, d_lng = rng.uniform(0, 0.05, 12), rng.uniform(0, 0.05, 12)
        demand = rng.integers(1, 10, 12)
        c_lat, c_lng = rng.uniform(0, 0.05, 8), rng.uniform(0, 0.05, 8)
        picked = suggest_sites(c_lat, c_lng, d_lat, d_lng, demand, 1500.0, 2)
        from geo_index.sphere import great_circle_many_m

        covers = [great_circle_many_m(a, b, d_lat, d_lng) <= 1500.0 for a, b in zip(c_lat, c_lng, strict=True)]
        best = max(int(demand[covers[i] | covers[j]].sum()) for i, j in itertools.combinations(range(8), 2))
        assert sum(s.gained for s in picked) >= (1 - 1 / np.e) * best
