"""Visits (nearby -> approaching -> arrived -> left) against a brute-force replay of the same rules
(tests/reference.py: every store, every fix, plain Python), on real GeoLife trajectories through
the real Beijing stores and on synthetic walks; the compiled pass against its own Python source."""

import csv
from collections import Counter

import numpy as np
import pytest

from geo_index import RadiusIndex
from geo_index import visits as visits_module
from geo_index.datum import gcj02_to_wgs84
from geo_index.fences import Drop, Fix
from geo_index.visits import Change, Stage, VisitRules, VisitState, track
from lbs_bench.geolife import read_plt, trajectories
from tests.reference import need_shared, visit_replay

NAMES = {Change.STARTED: "started", Change.APPROACHING: "approaching", Change.ARRIVED: "arrived",
         Change.LEFT: "left", Change.FORGOTTEN: "forgotten", Change.RESTARTED: "restarted"}
# Arrival after 30 s within 80 m; approach with an ETA under 10 min; a speed gate that real traces trip.
RULES = VisitRules(radius_m=1000, exit_radius_m=1100, arrive_radius_m=80, arrive_exit_m=120, dwell_s=30,
                   approach_eta_s=600, max_speed_mps=60)


def _tracked(rules, index, fixes):
    """Every change as the reference writes it, per fix: {(store, names, stage)}."""
    state, out = VisitState(), {}
    for number, fix in enumerate(fixes):
        for event in track(rules, state, fix, index).events:
            names = frozenset(name for flag, name in NAMES.items() if event.change & flag)
            out.setdefault(number, set()).add((event.store_id, names, event.stage.name.lower()))
    return out


def _replayed(rules, stores, fixes):
    out = {}
    for number, store_id, names, stage in visit_replay(rules, stores, fixes):
        out.setdefault(number, set()).add((store_id, frozenset(names), stage))
    return out


def _near(stores, fixes, margin_deg=0.05):
    """The stores that can matter to a trace (well beyond the exit radius of any of its fixes), so the
    plain-Python reference stays affordable; a store farther away produces no change in either."""
    lats, lngs = [f.lat for f in fixes], [f.lng for f in fixes]
    return [(i, a, b) for i, a, b in stores if min(lats) - margin_deg <= a <= max(lats) + margin_deg
            and min(lngs) - margin_deg <= b <= max(lngs) + margin_deg]


@pytest.fixture(scope="module")
def beijing():
    with need_shared("stores_cn_starbucks_2024.csv").open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["city"].startswith("北京")]
    wgs = np.array([gcj02_to_wgs84(float(r["lat_gcj02"]), float(r["lon_gcj02"])) for r in rows])
    ids = np.arange(1, len(wgs) + 1)
    stores = [(int(i), float(a), float(b)) for i, (a, b) in zip(ids, wgs, strict=True)]
    return RadiusIndex.build(ids, wgs[:, 0], wgs[:, 1]), stores


@pytest.fixture(scope="module")
def traces():
    return [[Fix(f.lat, f.lng, f.ts.timestamp(), 10.0) for f in read_plt(path)]
            for _, path in trajectories(need_shared("geolife"))]


def test_every_geolife_trace_matches_the_replay_stage_by_stage(beijing, traces):
    index, stores = beijing
    stages: Counter[str] = Counter()
    for fixes in traces:
        ours = _tracked(RULES, index, fixes)
        assert ours == _replayed(RULES, _near(stores, fixes), fixes)
        stages.update(stage for changes in ours.values() for _, names, stage in changes if names != {"forgotten"})
    # the traces walk through every stage, so every rule was compared, not only the first
    assert min(stages[name] for name in ("nearby", "approaching", "arrived", "left")) > 0, stages


def test_synthetic_walks_in_and_out_of_stores_match_the_replay():
    rng = np.random.default_rng(7)
    lats, lngs = 39.9 + rng.uniform(-0.01, 0.01, 60), 116.4 + rng.uniform(-0.01, 0.01, 60)
    ids = np.arange(100, 160)
    index = RadiusIndex.build(ids, lats, lngs)
    stores = [(int(i), float(a), float(b)) for i, a, b in zip(ids, lats, lngs, strict=True)]
    rules = VisitRules(radius_m=500, exit_radius_m=600, arrive_radius_m=60, arrive_exit_m=90, dwell_s=20,
                       approach_eta_s=300, max_accuracy_m=40, max_speed_mps=15)
    for walk in range(20):
        # a slow walk with pauses, GPS noise, an inaccurate fix now and then, and one going back in time
        at, lat, lng, fixes = 0.0, 39.9 + rng.uniform(-0.012, 0.012), 116.4 + rng.uniform(-0.012, 0.012), []
        for _ in range(300):
            at += float(rng.choice([5.0, 10.0]))
            if rng.random() > 0.3:
                lat, lng = lat + rng.normal(0, 0.0002), lng + rng.normal(0, 0.0002)
            fixes.append(Fix(lat, lng, at - (30.0 if rng.random() < 0.01 else 0.0),
                             float(rng.choice([5.0, 5.0, 5.0, 80.0]))))
        assert _tracked(rules, index, fixes) == _replayed(rules, stores, fixes), walk


def test_the_compiled_pass_equals_its_python_source(beijing, traces, monkeypatch):
    """Numba compiles `_advance`; its Python source (what the coverage report reads) gives the same events."""
    index, _ = beijing
    sample = [fixes[:2_000] for fixes in traces[:6]]
    compiled = [_tracked(RULES, index, fixes) for fixes in sample]
    monkeypatch.setattr(visits_module, "_advance", visits_module._advance.py_func)
    assert [_tracked(RULES, index, fixes) for fixes in sample] == compiled
    assert any(compiled)


def test_a_visit_that_left_restarts_and_an_arrived_one_can_vanish_past_the_exit(monkeypatch):
    """Arrive, step out (left), come back (a new visit, arrived at once), then a jump past the exit
    radius (left and forgotten, with the visit's length): compiled and interpreted alike."""
    index = RadiusIndex.build(np.array([1]), np.array([39.9]), np.array([116.4]))
    rules = VisitRules(radius_m=1000, exit_radius_m=1100, arrive_radius_m=80, arrive_exit_m=120, approach_eta_s=0)
    path = [(39.9, 116.4, 0.0), (39.9015, 116.4, 60.0), (39.9, 116.4, 120.0), (39.95, 116.4, 400.0)]
    fixes = [Fix(lat, lng, ts) for lat, lng, ts in path]

    def run():
        state = VisitState()
        return [[(e.change, e.stage, e.dwell_s) for e in track(rules, state, f, index).events] for f in fixes]

    compiled = run()
    assert compiled == [[(Change.STARTED | Change.ARRIVED, Stage.ARRIVED, None)],
                        [(Change.LEFT, Stage.LEFT, 60.0)],
                        [(Change.RESTARTED | Change.ARRIVED, Stage.ARRIVED, None)],
                        [(Change.LEFT | Change.FORGOTTEN, Stage.LEFT, 280.0)]]
    monkeypatch.setattr(visits_module, "_advance", visits_module._advance.py_func)
    assert run() == compiled


def test_a_walk_to_a_store_approaches_arrives_and_leaves_in_both_passes(monkeypatch):
    """No real data needed: 900 m south of a store, walking north at 1.5 m/s, a pause inside, then on."""
    index = RadiusIndex.build(np.array([1, 2]), np.array([39.9, 39.9]), np.array([116.4, 116.45]))
    rules = VisitRules(radius_m=1000, exit_radius_m=1100, arrive_radius_m=80, arrive_exit_m=120, dwell_s=20,
                       approach_eta_s=600)
    step_deg = 15.0 / 111_195.0  # 15 m a fix, one fix every 10 s
    fixes = [Fix(39.9 - 900 / 111_195.0 + n * step_deg, 116.4, 10.0 * n) for n in range(60)]
    fixes += [Fix(fixes[-1].lat, 116.4, fixes[-1].ts + 10.0 * n) for n in range(1, 4)]  # a pause
    fixes += [Fix(fixes[-1].lat + n * step_deg, 116.4, fixes[-1].ts + 10.0 * n) for n in range(1, 21)]  # on north

    def run():
        state, stages = VisitState(), []
        for fix in fixes:
            stages += [(e.store_id, e.stage.name.lower()) for e in track(rules, state, fix, index).events]
        return stages

    compiled = run()
    assert [stage for store, stage in compiled if store == 1] == ["nearby", "approaching", "arrived", "left"]
    monkeypatch.setattr(visits_module, "_advance", visits_module._advance.py_func)
    assert run() == compiled


def test_store_changes_forget_gone_stores_and_follow_moved_ones():
    index = RadiusIndex.build(np.array([1, 2]), np.array([39.9, 39.9]), np.array([116.4, 116.401]))
    state = VisitState()
    rules = VisitRules(approach_eta_s=0)
    first = track(rules, state, Fix(39.9, 116.4003, 0.0), index)
    assert {e.store_id for e in first.events} == {1, 2} and {e.stage for e in first.events} == {Stage.ARRIVED}
    index.remove(2)  # closed: its visit goes
    index.upsert(1, 39.95, 116.4)  # moved 5 km away: past the exit radius at the next fix
    second = track(rules, state, Fix(39.9, 116.4003, 10.0), index)
    assert [(e.store_id, e.change) for e in second.events] == [(1, Change.LEFT | Change.FORGOTTEN)]
    assert len(state) == 0


def test_rules_are_checked_and_dropped_fixes_leave_the_state_alone():
    with pytest.raises(ValueError):
        VisitRules(arrive_radius_m=200, radius_m=100)
    with pytest.raises(ValueError):
        VisitRules(arrive_exit_m=50)
    with pytest.raises(ValueError):
        VisitRules(dwell_s=-1)
    assert VisitRules.default_arrive_exit(80, 1100) == 120 and VisitRules.default_arrive_exit(80, 100) == 100
    index = RadiusIndex.build(np.array([1]), np.array([39.9]), np.array([116.4]))
    state, rules = VisitState(), VisitRules(max_accuracy_m=50)
    assert track(rules, state, Fix(39.9, 116.4, 0.0, 500.0), index).dropped is Drop.INACCURATE
    assert len(state) == 0 and state.last is None
