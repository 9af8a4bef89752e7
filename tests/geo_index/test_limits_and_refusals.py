"""The edges of geo_index that the exactness tests do not walk: bounded caches that must forget
without changing an answer, inputs refused, and empty inputs."""

import numpy as np
import pytest
from h3.api import basic_int as h3i
from shapely.geometry import box

from geo_index import RadiusIndex, radius_index
from geo_index.coverage import MAX_BUCKETS, Bounds, CoverageGrids, Grid, bounds_of, cells_in, coverage
from geo_index.disk_cover import DiskCover
from geo_index.fences import FenceConfig, Fix, UserFences, eta_s, step, velocity
from geo_index.regions import RegionIndex
from geo_index.siting import suggest_sites
from geo_index.visits import VisitState
from tests.reference import brute_force


def test_a_full_disk_cover_forgets_and_answers_the_same():
    cells = [h3i.latlng_to_cell(32.0 + 0.01 * n, 118.7, 9) for n in range(5)]
    small, fresh = DiskCover(max_cells=2), DiskCover()
    for cell in cells * 2:
        assert small.rings_for(cell, 700.0) == fresh.rings_for(cell, 700.0)
        k = small.rings_for(cell, 700.0)
        assert small.disk(cell, k).tolist() == fresh.disk(cell, k).tolist()
    assert len(small._guarantees) <= 2 and len(small._disks) <= 2


def test_a_full_range_cache_forgets_and_answers_stay_exact(monkeypatch):
    monkeypatch.setattr(radius_index, "_RANGES_BUDGET", 3_000)  # a few entries
    rng = np.random.default_rng(9)
    lats, lngs = 32.0 + rng.uniform(0, 0.1, 2_000), 118.7 + rng.uniform(0, 0.1, 2_000)
    ids = np.arange(1, 2_001)
    index = RadiusIndex.build(ids, lats, lngs)
    points = list(zip(32.0 + rng.uniform(0, 0.1, 30), 118.7 + rng.uniform(0, 0.1, 30), strict=True))
    first_key = None
    for n, (lat, lng) in enumerate([*points, points[0]]):  # the first point again, its ranges forgotten by then
        if n == len(points):
            assert first_key not in index._layout._ranges
        expected, _, edge = brute_force(lat, lng, lats, lngs, ids, 800.0)
        assert edge or index.nearby(float(lat), float(lng), 800.0).ids.tolist() == expected.tolist()
        if n == 0:
            first_key, = index._layout._ranges
    cache = index._layout
    assert 0 < cache._ranges_bytes <= 3_000 and 0 < len(cache._ranges) < 30
    assert cache._ranges_bytes == sum(r.nbytes for r in cache._ranges.values())


def test_ranges_found_twice_at_once_are_counted_once():
    """Two threads that miss the same cell both remember its ranges: the second replaces the first."""
    index = RadiusIndex.build([1, 2, 3], [32.0, 32.001, 32.002], [118.7, 118.7, 118.7])
    layout = index._layout
    first = layout.candidates(index._cover, 32.0, 118.7, 500.0)
    key, = layout._ranges
    again = first.of(first.starts.copy(), first.ends.copy(), first.order)
    layout._remember(key, again)
    assert layout._ranges == {key: again} and layout._ranges_bytes == again.nbytes


def test_ranges_bigger_than_the_whole_budget_are_not_remembered(monkeypatch):
    rng = np.random.default_rng(4)
    index = RadiusIndex.build(np.arange(1, 301), 32.0 + rng.uniform(0, 0.1, 300), 118.7 + rng.uniform(0, 0.1, 300))
    layout = index._layout
    layout.candidates(index._cover, 32.05, 118.75, 200.0)
    kept = dict(layout._ranges)
    monkeypatch.setattr(radius_index, "_RANGES_BUDGET", next(iter(kept.values())).nbytes)
    wide = layout.candidates(index._cover, 32.05, 118.75, 5_000.0)  # more ranges than the budget holds
    assert wide.nbytes > radius_index._RANGES_BUDGET
    assert layout._ranges == kept  # the one that fits is still there


def test_nearest_needs_a_positive_k():
    with pytest.raises(ValueError):
        RadiusIndex.build([1], [1.0], [2.0]).nearest(1.0, 2.0, 0)


def test_fence_rules_are_checked():
    with pytest.raises(ValueError):
        FenceConfig(radius_m=0)
    with pytest.raises(ValueError):
        FenceConfig(radius_m=500, exit_radius_m=400)
    with pytest.raises(ValueError):
        FenceConfig(dwell_s=-1)


def test_no_velocity_without_time_passing_and_none_standing_still():
    state = UserFences()
    assert eta_s(state, 0.001, 0.0, 100.0) is None  # no fix yet
    config = FenceConfig()
    step(config, state, Fix(0.0, 0.0, 10.0), [])
    step(config, state, Fix(0.0, 0.0, 10.0), [])  # same instant: no speed can be told
    assert velocity(state) is None
    step(config, state, Fix(0.000001, 0.0, 20.0), [])  # 11 cm: standing still
    assert velocity(state) == (0.0, 0.0)


def test_coverage_refusals_and_empty_inputs():
    with pytest.raises(ValueError):
        CoverageGrids(np.zeros(1), np.zeros(1), Bounds(0, 1, 0, 1), radius_m=500, near_m=100)
    empty = coverage(np.zeros(0, np.uint64), np.zeros(0), np.zeros(0), 500.0, 1_000.0)
    assert len(empty.cells) == 0 and len(empty.nearest_m) == 0
    assert suggest_sites(np.zeros(0), np.zeros(0), np.ones(1), np.ones(1), np.ones(1, np.int64), 500.0, 3) == []


def test_a_region_index_counts_its_regions():
    regions = RegionIndex([("a", box(0, 0, 1, 1)), ("b", box(1, 1, 2, 2))])
    assert len(regions) == 2 and regions.region_of(0.5, 0.5) == "a" and regions.region_of(5.0, 5.0) is None
    assert len(RegionIndex()) == 0 and RegionIndex().region_of(0.5, 0.5) is None


def test_coverage_grids_estimate_from_a_sample_and_measure_like_the_one_shot():
    cells = cells_in([box(118.70, 32.00, 118.80, 32.08)], 9)
    rng = np.random.default_rng(11)
    lats, lngs = rng.uniform(32.0, 32.08, 400), rng.uniform(118.70, 118.80, 400)
    bounds = bounds_of([box(118.70, 32.00, 118.80, 32.08)]).grown(2_000)
    assert bounds.drawable and not Bounds(-85, 10, 0, 1).drawable and not Bounds(0, 1, 170, 180).drawable
    sample = CoverageGrids.sample_of(cells)
    assert 0 < len(sample) <= CoverageGrids.SAMPLE + 1
    grids = CoverageGrids(lats, lngs, bounds, 500.0, 5_000.0, sample)
    assert grids.estimated_work(len(cells)) > 0
    measured, once = grids.measure(cells), coverage(cells, lats, lngs, 500.0, 5_000.0)
    assert measured.stores_within.tolist() == once.stores_within.tolist()
    assert measured.covered.tolist() == (once.stores_within > 0).tolist()


def test_a_grid_over_a_huge_area_coarsens_instead_of_growing():
    grid = Grid.build(np.array([0.0]), np.array([0.0]), Bounds(-60, 60, -170, 170), bucket_m=10.0)
    assert grid.rows * grid.cols <= MAX_BUCKETS


def test_a_batch_bigger_than_the_tail_rebuilds_once_and_stays_exact():
    rng = np.random.default_rng(12)
    index = RadiusIndex.build(np.arange(1, 11), 32.0 + rng.uniform(0, 0.01, 10), 118.7 + rng.uniform(0, 0.01, 10))
    lats, lngs = 32.0 + rng.uniform(0, 0.05, 6_000), 118.7 + rng.uniform(0, 0.05, 6_000)
    index.apply([(int(i), float(a), float(b), "") for i, a, b in zip(range(11, 6_011), lats, lngs, strict=True)],
                removals=[1, 2])
    all_ids = np.arange(11, 6_011)
    expected, _, edge = brute_force(32.02, 118.72, lats, lngs, all_ids, 1_000.0)
    found = set(index.nearby(32.02, 118.72, 1_000.0).ids.tolist())
    assert edge or sorted(found - set(range(3, 11))) == sorted(expected.tolist())
    assert not {1, 2} & found and index.memory_bytes() > 6_000 * 8
    index.apply([(20_000, 32.02, 118.72, "")], removals=[11])  # a small batch goes to the tail
    near = index.nearby(32.02, 118.72, 1.0).ids.tolist()
    assert near == [20_000] and 11 not in index.nearby(float(lats[0]), float(lngs[0]), 1.0).ids.tolist()


def test_regions_from_geojson_and_the_gauge_buckets_of_a_visit_state():
    regions = RegionIndex.from_geojson([("c", {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]})])
    assert regions.region_of(0.2, 0.8) == "c"
    state = VisitState(ids=np.array([4, 5], np.int64), bucket=np.array([2, -1], np.int8))
    assert state.buckets() == [(4, 2)]
