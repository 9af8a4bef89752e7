"""The Numba kernels against their own Python source: with every compiled function of a module
swapped for the function it was compiled from, the answers are the same. The compiled answers are
held to brute force elsewhere (test_radius_index, tests/service/test_coverage); this closes the loop
and lets the coverage report read the kernels' lines."""

import math

import numba
import numpy as np
import pytest
from numba.core.registry import CPUDispatcher

from geo_index import RadiusIndex, kernels, radius_index
from geo_index import coverage as coverage_module
from geo_index.coverage import cells_in, coverage
from geo_index.sphere import EARTH_RADIUS_M
from tests.reference import brute_force


def interpreted(monkeypatch, *modules):
    """Every compiled function these modules hold, replaced by its Python source."""
    swapped = 0
    for module in modules:
        for name, value in list(vars(module).items()):
            if isinstance(value, CPUDispatcher):
                monkeypatch.setattr(module, name, value.py_func)
                swapped += 1
    assert swapped, "no compiled function found: nothing would be checked"


def _answers(index, points):
    out = []
    for lat, lng in points:
        near = index.nearby(lat, lng, 2_000, limit=15)
        cafes = index.nearby(lat, lng, 3_000, categories=["cafe"])
        first_cafes = index.nearby(lat, lng, 3_000, limit=10, categories=["cafe"])
        ids, _ = index.annulus(lat, lng, 500.0, 1_500.0)
        out.append((near.ids.tolist(), near.distances_m.round(6).tolist(), near.matched, cafes.ids.tolist(),
                    sorted(ids.tolist()), first_cafes.ids.tolist(), first_cafes.matched))
    return out


def test_nearby_and_annulus_kernels_equal_their_python_source(monkeypatch):
    rng = np.random.default_rng(3)
    lats, lngs = 31.2 + rng.uniform(-0.05, 0.05, 3_000), 121.4 + rng.uniform(-0.05, 0.05, 3_000)
    ids = np.arange(1, 3_001)
    categories = np.array(["cafe", "hall"])[rng.integers(0, 2, 3_000)].tolist()
    index = RadiusIndex.build(ids, lats, lngs, categories)
    # a ring of stores all 50 m from the query, over many cells: one rank bucket in scan order, not in
    # (distance, id) order, so ranking gives up and the caller sorts
    turn = np.linspace(0, 2 * np.pi, 2_000, endpoint=False)
    ring = 50.0 / 6_371_008.8
    pile = RadiusIndex.build(rng.permutation(np.arange(1, 2_001)), np.degrees(np.radians(31.2) + ring * np.cos(turn)),
                             121.4 + np.degrees(ring * np.sin(turn) / np.cos(np.radians(31.2))))
    points = [(31.2 + float(a), 121.4 + float(b)) for a, b in rng.uniform(-0.05, 0.05, (25, 2))]
    # a store 0.1 mm past the radius: within the dot product's slack (0.6 mm), out by its angle
    edge = RadiusIndex.build([1, 2], [0.0, 0.0], [np.degrees(1_000.0001 / EARTH_RADIUS_M), 0.001])
    compiled = (_answers(index, points), pile.nearby(31.2, 121.4, 50_000, limit=100).ids.tolist(),
                edge.nearby(0.0, 0.0, 1_000.0, limit=5).ids.tolist())
    interpreted(monkeypatch, radius_index, kernels)
    assert (_answers(index, points), pile.nearby(31.2, 121.4, 50_000, limit=100).ids.tolist(),
            edge.nearby(0.0, 0.0, 1_000.0, limit=5).ids.tolist()) == compiled
    assert compiled[2] == [2]
    assert len(compiled[1]) == 100
    expected, _, _ = brute_force(*points[0], lats, lngs, ids, 2_000)
    assert compiled[0][0][0] == expected[:15].tolist()


def test_coverage_kernels_equal_their_python_source(monkeypatch):
    from shapely.geometry import box

    rng = np.random.default_rng(4)
    cells = cells_in([box(118.76, 32.03, 118.80, 32.06)], 9)
    store_lats, store_lngs = 32.045 + rng.normal(0, 0.01, 150), 118.78 + rng.normal(0, 0.01, 150)
    compiled = coverage(cells, store_lats, store_lngs, 500.0, 3_000.0)
    interpreted(monkeypatch, coverage_module)
    python = coverage(cells, store_lats, store_lngs, 500.0, 3_000.0)
    assert python.stores_within.tolist() == compiled.stores_within.tolist()
    assert np.allclose(python.nearest_m, compiled.nearest_m, equal_nan=True, rtol=0, atol=1e-6)
    assert 0 < (compiled.stores_within > 0).sum() < len(cells)  # covered and uncovered cells both checked


def test_coverage_kernels_at_the_grid_edges_equal_their_python_source(monkeypatch):
    """Three stores in one corner, cells to the far side and a reach past the grid: the nearest-store
    rings run off the grid on every side."""
    from shapely.geometry import box

    cells = cells_in([box(118.70, 32.00, 118.74, 32.03)], 8)
    store_lats, store_lngs = np.array([32.0, 32.001, 32.0005]), np.array([118.70, 118.701, 118.7005])
    compiled = coverage(cells, store_lats, store_lngs, 300.0, 100_000.0)
    interpreted(monkeypatch, coverage_module)
    python = coverage(cells, store_lats, store_lngs, 300.0, 100_000.0)
    assert np.allclose(python.nearest_m, compiled.nearest_m, rtol=0, atol=1e-6)
    assert not np.isnan(compiled.nearest_m).any()


def test_a_row_exactly_one_radius_away_is_touched_only_straight_across():
    angle = math.radians(1.0)
    assert coverage_module._half_width.py_func(-1.0, 0.0, 0.5, angle) == 0.0
    assert coverage_module._half_width.py_func(-1.5, 0.0, 0.5, angle) == -1.0


@pytest.mark.parametrize("module", [kernels, coverage_module])
def test_each_kernel_module_is_compiled(module):
    """What the tests above swap is really what runs: the kernels are Numba dispatchers."""
    assert any(isinstance(v, numba.core.registry.CPUDispatcher) for v in vars(module).values())


@pytest.mark.parametrize("compiled", [True, False])
def test_cell_ranges_cover_exactly_the_positions_of_the_asked_cells_in_few_ranges(compiled):
    """Occupied cells with their position bounds, asked for sorted cells (some empty, some past the
    last occupied one): the ranges hold exactly those cells' positions, adjacent ones joined."""
    find = kernels.cell_ranges if compiled else kernels.cell_ranges.py_func
    rng = np.random.default_rng(12)
    for _ in range(200):
        occupied = np.unique(rng.integers(10, 400, rng.integers(0, 60))).astype(np.uint64)
        bounds = np.concatenate(([0], np.cumsum(rng.integers(1, 5, len(occupied))))).astype(np.int64)
        asked = np.unique(rng.integers(0, 420, rng.integers(0, 80))).astype(np.uint64)
        starts, ends = np.empty(len(asked), np.int64), np.empty(len(asked), np.int64)
        count = find(occupied, bounds, asked, starts, ends)
        got = [p for s, e in zip(starts[:count], ends[:count], strict=True) for p in range(s, e)]
        where = {int(c): i for i, c in enumerate(occupied)}
        wanted = [p for c in asked.tolist() if c in where for p in range(bounds[where[c]], bounds[where[c] + 1])]
        assert got == wanted
        assert all(ends[k] < starts[k + 1] for k in range(count - 1))  # touching ranges were joined
