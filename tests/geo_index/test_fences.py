"""The fence state machine against a brute-force replay, and its jitter defences."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from geo_index import RadiusIndex
from geo_index.fences import Drop, Enter, Exit, FenceConfig, Fix, UserFences, eta_s, step
from tests.reference import haversine_m

EXACT = FenceConfig(radius_m=1000, exit_radius_m=1000, dwell_s=0, max_accuracy_m=0, max_speed_mps=0)


def replay(config, index, fixes):
    state, events = UserFences(), []
    for number, fix in enumerate(fixes):
        hits = index.nearby(fix.lat, fix.lng, config.exit_radius_m)
        result = step(config, state, fix, zip(hits.ids.tolist(), hits.distances_m.tolist(), strict=True))
        events += [(number, e) for e in result.events]
    return events


def brute_force_arrivals(fixes, lats, lngs, ids, radius):
    """Every (fix, store) where the store is within the radius and was not at the previous fix."""
    arrivals, before = [], set()
    for number, fix in enumerate(fixes):
        d = haversine_m(fix.lat, fix.lng, lats, lngs)
        now = {int(i): float(x) for i, x in zip(ids[d <= radius], d[d <= radius], strict=True)}
        arrivals += [(number, s) for s in sorted(set(now) - before, key=lambda s: (now[s], s))]
        before = set(now)
    return arrivals


def random_walk(rng, n, lat=32.05, lng=118.78, step_deg=0.002):
    path = np.cumsum(rng.normal(0, step_deg, (n, 2)), axis=0) + np.array([lat, lng])
    return [Fix(float(a), float(b), 1_700_000_000 + 10.0 * i) for i, (a, b) in enumerate(path)]


def test_arrivals_equal_a_brute_force_replay():
    rng = np.random.default_rng(1)
    lats, lngs = rng.normal(32.05, 0.03, 3000), rng.normal(118.78, 0.03, 3000)
    ids = np.arange(1, 3001)
    index = RadiusIndex.build(ids, lats, lngs)
    fixes = random_walk(rng, 800)
    got = [(n, e.store_id) for n, e in replay(EXACT, index, fixes) if isinstance(e, Enter)]
    assert got == brute_force_arrivals(fixes, lats, lngs, ids, 1000)
    assert len(got) > 100


def jitter_at_the_edge(rng):
    """A phone parked ~1 km from a store, GPS noise of ±40 m: the classic enter/exit storm."""
    store_lat, store_lng = 32.0, 118.0
    offset = 1000.0 / 111_195.0  # about 1 km north
    return [Fix(store_lat + offset + rng.normal(0, 40 / 111_195), store_lng, 1_700_000_000 + 5.0 * i, 15.0)
            for i in range(720)], RadiusIndex.build([7], [store_lat], [store_lng])


def test_hysteresis_and_dwell_remove_flapping():
    rng = np.random.default_rng(2)
    fixes, index = jitter_at_the_edge(rng)
    naive = [e for _, e in replay(EXACT, index, fixes)]
    damped = [e for _, e in replay(FenceConfig(1000, 1100, 60, 0, 0), index, fixes)]
    flaps = sum(isinstance(e, Enter) for e in naive)
    assert flaps > 50  # the storm is real without the defences
    assert sum(isinstance(e, Enter) for e in damped) <= 1
    assert not any(isinstance(e, Exit) for e in damped)


def test_dwell_needs_consecutive_inside_fixes():
    index = RadiusIndex.build([1], [0.0], [0.0])
    config = FenceConfig(1000, 1100, dwell_s=30)
    state = UserFences()
    inside, outside = (0.005, 0.0), (0.0095, 0.0)  # ~556 m and ~1,056 m from the store
    timeline = [(inside, 0), (inside, 20), (outside, 25), (inside, 40), (inside, 60), (inside, 71)]
    entered_at = []
    for (lat, lng), t in timeline:
        hits = index.nearby(lat, lng, 1100)
        result = step(config, state, Fix(lat, lng, t), zip(hits.ids.tolist(), hits.distances_m.tolist(), strict=True))
        entered_at += [t for e in result.events if isinstance(e, Enter)]
    assert entered_at == [71]  # 40 -> 71 is the first unbroken 30 s


def test_filters_drop_bad_fixes():
    config = FenceConfig(1000, 1000, 0, max_accuracy_m=100, max_speed_mps=50)
    state = UserFences()
    assert step(config, state, Fix(0, 0, 100, 10), []).dropped is None
    assert step(config, state, Fix(0, 0, 99, 10), []).dropped is Drop.OUT_OF_ORDER
    assert step(config, state, Fix(0, 0, 101, 500), []).dropped is Drop.INACCURATE
    assert step(config, state, Fix(1.0, 0, 110, 10), []).dropped is Drop.TOO_FAST  # 111 km in 10 s
    assert step(config, state, Fix(0.001, 0, 110, 10), []).dropped is None
    assert state.last == Fix(0.001, 0, 110, 10)


def test_eta_from_speed_and_heading():
    state = UserFences()
    step(EXACT, state, Fix(0.0, 0.0, 0), [])
    step(EXACT, state, Fix(0.0009, 0.0, 100), [])  # ~100 m north in 100 s: 1 m/s
    ahead = eta_s(state, 0.0054, 0.0, 500.0)
    assert ahead is not None and 450 < ahead < 550
    assert eta_s(state, -0.005, 0.0, 600.0) is None  # behind: walking away


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-0.02, 0.02), st.floats(-0.02, 0.02)), min_size=1, max_size=40),
       st.floats(0, 300), st.floats(0, 200))
def test_a_fence_never_enters_twice_without_leaving(moves, dwell, band):
    """Property: for any path and settings, enters and exits alternate per store, starting with an enter."""
    index = RadiusIndex.build([1, 2], [0.0, 0.004], [0.0, 0.004])
    config = FenceConfig(1000, 1000 + band, dwell)
    state, seen = UserFences(), {1: [], 2: []}
    for i, (lat, lng) in enumerate(moves):
        hits = index.nearby(lat, lng, config.exit_radius_m)
        for e in step(config, state, Fix(lat, lng, 30.0 * i), zip(hits.ids.tolist(), hits.distances_m.tolist(),
                                                                      strict=True)).events:
            seen[e.store_id].append(type(e))
    for kinds in seen.values():
        assert all(k is (Enter if n % 2 == 0 else Exit) for n, k in enumerate(kinds))
