"""The in-memory index against a brute-force great-circle scan, everywhere on Earth."""

import itertools

import numpy as np
import pytest
from h3.api import basic_int as h3i

from geo_index import CoordinateOutOfRange, RadiusIndex, disk_cover
from tests.reference import brute_force


def world_stores(rng, n):
    """Clusters in cities plus the awkward places: poles, the antimeridian, pentagons."""
    parts = []
    for lat, lng, spread, share in [(31.23, 121.47, 0.08, 0.3), (39.99, 116.33, 0.08, 0.2), (52.5, 13.4, 0.05, 0.1),
                                    (85.0, 0.0, 3.0, 0.1), (-88.0, 0.0, 1.5, 0.05), (0.0, 179.9, 0.05, 0.1)]:
        m = int(n * share)
        parts.append(np.column_stack((rng.normal(lat, spread, m), rng.normal(lng, spread, m))))
    pentagons = np.array([h3i.cell_to_latlng(c) for c in h3i.get_pentagons(8)])
    for lat, lng in pentagons:
        parts.append(np.column_stack((rng.normal(lat, 0.02, n // 200), rng.normal(lng, 0.02, n // 200))))
    rest = n - sum(len(p) for p in parts)
    parts.append(np.column_stack((np.degrees(np.arcsin(rng.uniform(-1, 1, rest))), rng.uniform(-180, 180, rest))))
    pts = np.concatenate(parts)
    pts[:, 0] = np.clip(pts[:, 0], -90, 90)
    pts[:, 1] = (pts[:, 1] + 540) % 360 - 180
    return pts


def queries_near(rng, pts, count):
    """Query points beside real stores (dense answers) and anywhere (mostly empty ones)."""
    near = pts[rng.integers(0, len(pts), count // 2)] + rng.normal(0, 0.005, (count // 2, 2))
    anywhere = np.column_stack((rng.uniform(-90, 90, count - count // 2), rng.uniform(-180, 180, count - count // 2)))
    q = np.concatenate((near, anywhere))
    q[:, 0] = np.clip(q[:, 0], -90, 90)
    q[:, 1] = (q[:, 1] + 540) % 360 - 180
    return q


def assert_same(result, expected_ids, expected_d, edge):
    """Same stores, in distance order, with the same distances (to 0.01 m).

    Stores within a micrometre of the circle, and order among stores whose distances differ by
    under a micrometre (float noise, e.g. points at a pole), are left out of the comparison.
    """
    got = [i for i in result.ids.tolist() if i not in edge]
    want = [i for i in expected_ids.tolist() if i not in edge]
    assert sorted(got) == sorted(want)
    by_id = dict(zip(expected_ids.tolist(), expected_d.tolist(), strict=True))
    reference = [by_id[i] for i in got]
    assert all(b >= a - 1e-6 for a, b in itertools.pairwise(reference))
    assert got == want or all(abs(by_id[a] - by_id[b]) < 1e-6 for a, b in zip(got, want, strict=True) if a != b)
    for i, d in zip(result.ids.tolist(), result.distances_m.tolist(), strict=True):
        if i in by_id:
            assert abs(by_id[i] - d) <= 0.01


@pytest.fixture(scope="module")
def world():
    rng = np.random.default_rng(42)
    pts = world_stores(rng, 60_000)
    ids = rng.permutation(np.arange(1, len(pts) + 1) * 7).astype(np.int64)
    cats = np.array(["cafe", "telecom", "convenience"])[rng.integers(0, 3, len(pts))]
    return pts, ids, cats, RadiusIndex.build(ids, pts[:, 0], pts[:, 1], cats.tolist())


@pytest.mark.parametrize("radius", [1.0, 150.0, 1000.0, 2000.0, 2000.5, 5000.0, 6000.0, 25_000.0, 50_000.0, 400_000.0])
def test_radius_queries_match_brute_force(world, radius):
    pts, ids, _, index = world
    rng = np.random.default_rng(int(radius))
    for lat, lng in queries_near(rng, pts, 120):
        expected, dist, edge = brute_force(lat, lng, pts[:, 0], pts[:, 1], ids, radius)
        result = index.nearby(float(lat), float(lng), radius)
        assert_same(result, expected, dist, edge)
        assert result.matched == len(result.ids)
        page = index.nearby(float(lat), float(lng), radius, limit=10)  # the first-page kernel, everywhere
        assert page.matched == result.matched and page.ids.tolist() == result.ids[:10].tolist()


def test_limit_keeps_the_nearest_and_counts_all(world):
    pts, ids, _, index = world
    lat, lng = 31.23, 121.47
    expected, _, _ = brute_force(lat, lng, pts[:, 0], pts[:, 1], ids, 3000)
    result = index.nearby(lat, lng, 3000, limit=7)
    assert result.matched == len(expected) > 7
    assert result.ids.tolist() == expected[:7].tolist()


def test_category_filter(world):
    pts, ids, cats, index = world
    lat, lng = 39.99, 116.33
    mask = cats == "cafe"
    expected, _, _ = brute_force(lat, lng, pts[mask, 0], pts[mask, 1], ids[mask], 2000)
    assert index.nearby(lat, lng, 2000, categories=["cafe"]).ids.tolist() == expected.tolist()
    assert len(index.nearby(lat, lng, 2000, categories=["no-such"]).ids) == 0


def test_k_nearest_matches_brute_force(world):
    pts, ids, _, index = world
    rng = np.random.default_rng(5)
    for lat, lng in queries_near(rng, pts, 40):
        expected, _, _ = brute_force(lat, lng, pts[:, 0], pts[:, 1], ids, 1e9)
        assert index.nearest(float(lat), float(lng), 5).ids.tolist() == expected[:5].tolist()


def test_pages_after_a_store_continue_the_order_and_count_all(world):
    pts, _, _, index = world
    rng = np.random.default_rng(9)
    for lat, lng in queries_near(rng, pts, 30):
        whole = index.nearby(float(lat), float(lng), 5000)
        listed, after = [], None
        while True:
            page = index.nearby(float(lat), float(lng), 5000, limit=13, after=after)
            assert page.matched == whole.matched
            listed += page.ids.tolist()
            if len(page.ids) < 13:
                break
            after = (float(page.distances_m[-1]), int(page.ids[-1]))
        assert listed == whole.ids.tolist()


def test_equal_metres_go_by_id_whatever_the_angles():
    """Two stores one bit apart in angle, the same reported metres: ordered by id."""
    index = RadiusIndex.build([1, 2], [32.04650495583799, 32.04789088099818], [118.78382357327828, 118.77495707144396])
    result = index.nearby(32.05, 118.78, 600)
    assert result.distances_m[0] == result.distances_m[1] and result.ids.tolist() == [1, 2]
    assert index.nearby(32.05, 118.78, 600, limit=1).ids.tolist() == [1]


def test_ties_resolve_by_id():
    index = RadiusIndex.build([30, 10, 20], [1.0, 1.0, 1.0], [2.0, 2.0, 2.0])
    assert index.nearby(1.0, 2.001, 500).ids.tolist() == [10, 20, 30]
    assert index.nearby(1.0, 2.001, 500, limit=2).ids.tolist() == [10, 20]


def test_changes_are_seen_by_the_next_query():
    rng = np.random.default_rng(9)
    n = 5000
    lats, lngs = rng.normal(32.05, 0.05, n), rng.normal(118.78, 0.05, n)
    ids = np.arange(n, dtype=np.int64)
    alive = np.ones(n, dtype=bool)
    index = RadiusIndex.build(ids, lats, lngs)
    for step in range(9000):  # enough changes to fill and fold the tail twice
        i = int(rng.integers(n))
        if rng.random() < 0.3:
            assert index.remove(i) == alive[i]
            alive[i] = False
        else:
            lats[i], lngs[i] = rng.normal(32.05, 0.05), rng.normal(118.78, 0.05)
            index.upsert(i, float(lats[i]), float(lngs[i]))
            alive[i] = True
        if step % 900 == 0:
            lat, lng = rng.normal(32.05, 0.05), rng.normal(118.78, 0.05)
            expected, _, edge = brute_force(lat, lng, lats[alive], lngs[alive], ids[alive], 1500)
            assert [i for i in index.nearby(lat, lng, 1500).ids.tolist() if i not in edge] == [
                i for i in expected.tolist() if i not in edge]
    assert len(index) == alive.sum()
    assert index.position(int(np.flatnonzero(alive)[0])) is not None


def test_batch_changes_rebuild_once_and_stay_exact():
    index = RadiusIndex.build([1, 2], [10.0, 10.001], [20.0, 20.0])
    moved = [(i, 10.0 + i * 1e-5, 20.0, "x") for i in range(3, 10_003)]
    index.apply(moved, removals=[1])
    assert 1 not in index and 2 in index and 10_002 in index
    assert len(index) == 10_001
    assert index.nearby(10.0, 20.0, 6, categories=["x"]).ids.tolist() == [3, 4, 5]


def test_bad_input_is_refused():
    index = RadiusIndex.build([1], [0.5], [0.5])
    with pytest.raises(CoordinateOutOfRange):
        index.nearby(91.0, 0.0, 100)
    with pytest.raises(ValueError):
        index.nearby(0.0, 0.0, float("nan"))
    with pytest.raises(ValueError):
        RadiusIndex.build([1, 1], [0.0, 1.0], [0.0, 1.0])


def test_empty_index_answers_nothing():
    result = RadiusIndex().nearby(0.0, 0.0, 50_000)
    assert result.matched == 0 and len(result.ids) == 0


def test_a_pile_of_stores_at_one_spot_still_sorts_by_id():
    """Thousands of stores on one coordinate defeat bucket sorting; the fallback must keep the order exact."""
    rng = np.random.default_rng(4)
    ids = rng.permutation(np.arange(1, 5001)).astype(np.int64)
    lats = np.concatenate((np.full(4000, 32.05), rng.normal(32.05, 0.001, 1000)))
    lngs = np.concatenate((np.full(4000, 118.78), rng.normal(118.78, 0.001, 1000)))
    index = RadiusIndex.build(ids, lats, lngs)
    expected, _, edge = brute_force(32.0501, 118.7801, lats, lngs, ids, 800)
    result = index.nearby(32.0501, 118.7801, 800)
    assert not edge and result.ids.tolist() == expected.tolist()
    assert index.nearby(32.0501, 118.7801, 800, limit=10).ids.tolist() == expected[:10].tolist()


def test_zero_radius_finds_only_stores_exactly_there():
    index = RadiusIndex.build([1, 2, 3], [10.0, 10.0, 10.00001], [20.0, 20.0, 20.0])
    assert index.nearby(10.0, 20.0, 0.0).ids.tolist() == [1, 2]


def test_a_first_page_is_the_head_of_the_full_ranking():
    """A page (limit, no cursor) ranks only the hits that can be in it (kernels.scan_nearest): it must
    be exactly the first `limit` of the full ranking, with the same count - near the radius, with a
    category, with stores in the unsorted tail, at tiny radii and with ties on one spot."""
    rng = np.random.default_rng(12)
    n = 6_000
    lats, lngs = 31.2 + rng.uniform(-0.03, 0.03, n), 121.4 + rng.uniform(-0.03, 0.03, n)
    lats[:300], lngs[:300] = 31.2, 121.4  # a pile: 300 stores at one spot, all tied
    index = RadiusIndex.build(np.arange(1, n + 1), lats, lngs, np.array(["a", "b"])[rng.integers(0, 2, n)].tolist())
    for i, (dlat, dlng) in enumerate(rng.uniform(-0.03, 0.03, (200, 2))):
        index.upsert(100_000 + i, 31.2 + float(dlat), 121.4 + float(dlng), "a")
    queries = [(31.2, 121.4)] + [(31.2 + float(a), 121.4 + float(b)) for a, b in rng.uniform(-0.03, 0.03, (60, 2))]
    for (lat, lng), radius, limit, categories in itertools.product(queries, (1.0, 150.0, 1_000.0, 4_000.0),
                                                                   (1, 7, 21, 400), (None, ["a"])):
        page = index.nearby(lat, lng, radius, limit, categories)
        whole = index.nearby(lat, lng, radius, None, categories)
        assert page.matched == whole.matched
        assert page.ids.tolist() == whole.ids[:limit].tolist()
        assert page.distances_m.tolist() == whole.distances_m[:limit].tolist()
    empty = index.nearby(31.2, 121.4, 1_000.0, 0)  # no page at all, still the count
    assert empty.ids.tolist() == [] and empty.matched == index.nearby(31.2, 121.4, 1_000.0).matched > 0
    assert index.nearby(31.2, 121.4, 1_000.0, 5, ["no-such"]).matched == 0


@pytest.mark.parametrize(("query", "store", "radius"), [
    ((-7.969344104145161, 31.272430555027903), (-7.891910178034675, 31.325976784119494), 10_440.0),
    ((30.318642555838974, 24.158494972946357), (30.39661505278779, 24.22062200852826), 10_530.0),
])
def test_exact_without_the_ring_shortcut(monkeypatch, query, store, radius):
    """The disk proof alone must hold every level exact: the shortcut that starts it at an estimate
    may only widen a disk. (Found by a review: a coarse level that held a store in the parent of its
    fine cell, not in the cell it lies in, missed these stores once the shortcut was off.)"""
    monkeypatch.setattr(disk_cover, "first_rings_worth_checking", lambda cell, radius_m: 0)
    index = RadiusIndex.build([1], [store[0]], [store[1]])
    expected, _, _ = brute_force(query[0], query[1], np.array([store[0]]), np.array([store[1]]), np.array([1]), radius)
    assert expected.tolist() == [1]
    assert index.nearby(*query, radius).ids.tolist() == [1]
    assert index.annulus(*query, 0.0, radius)[0].tolist() == [1]
