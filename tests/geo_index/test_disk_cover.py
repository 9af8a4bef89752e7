"""The ring count is proven, not guessed: sampled points within the radius always land in the disk."""

import math
import random

import pytest
from h3.api import basic_int as h3i

from geo_index import disk_cover
from geo_index.disk_cover import DiskCover, guaranteed_radius_m
from geo_index.sphere import EARTH_RADIUS_M


def destination(lat, lng, bearing, distance_m):
    p1, l1, d = math.radians(lat), math.radians(lng), distance_m / EARTH_RADIUS_M
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(bearing))
    l2 = l1 + math.atan2(math.sin(bearing) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2))
    return math.degrees(p2), (math.degrees(l2) + 540) % 360 - 180


def hard_places(resolution):
    """Cells where H3 is least regular: pentagons, poles, the antimeridian, icosahedron edges."""
    cells = list(h3i.get_pentagons(resolution))
    for lat, lng in [(89.99, 0), (-89.99, 45), (0, 179.999), (65, -179.999), (-40, 180), (31.23, 121.47), (52, 13)]:
        cells.append(h3i.latlng_to_cell(lat, lng, resolution))
    return cells


def points_in(cell, rng, count):
    lat, lng = h3i.cell_to_latlng(cell)
    found = 0
    while found < count:
        p = destination(lat, lng, rng.uniform(0, 2 * math.pi), rng.uniform(0, 1) * h3i.average_hexagon_edge_length(
            h3i.get_resolution(cell), "m"))
        if h3i.latlng_to_cell(*p, h3i.get_resolution(cell)) == cell:
            found += 1
            yield p


@pytest.mark.parametrize(("resolution", "radius"), [(8, 1000.0), (8, 250.0), (6, 20_000.0), (9, 1000.0)])
def test_every_point_within_the_radius_is_in_the_disk(resolution, radius):
    rng = random.Random(resolution * 1000 + int(radius))
    cover = DiskCover()
    for cell in hard_places(resolution):
        k = cover.rings_for(cell, radius)
        disk = set(cover.disk(cell, k).tolist())
        for q in points_in(cell, rng, 5):
            for _ in range(300):
                p = destination(*q, rng.uniform(0, 2 * math.pi), radius * math.sqrt(rng.uniform(0, 1)))
                assert h3i.latlng_to_cell(*p, resolution) in disk, (cell, k, q, p)


@pytest.mark.parametrize("resolution", [6, 9])
def test_the_proof_reads_the_whole_ring_next_to_the_disk_even_beside_pentagons(resolution):
    """The proof reads ring k + 1 (grid_ring where it is regular): it must be every cell at grid
    distance k + 1, as disk(k + 1) minus disk(k) is, where pentagons distort the grid too."""
    for pentagon in h3i.get_pentagons(resolution):
        for cell in h3i.grid_disk(pentagon, 4)[::4]:
            for k in range(1, 10):
                ring = disk_cover._ring(cell, k)
                assert sorted(ring) == sorted(set(h3i.grid_disk(cell, k)) - set(h3i.grid_disk(cell, k - 1))), (cell, k)


def test_a_wrong_ring_from_h3_is_not_believed():
    """Around several pentagons at once H3's grid_ring has answered wrong (uber/h3 issue 1241):
    repeated cells, some missing. The proof must not read such a ring."""
    cell = h3i.latlng_to_cell(0.0, 0.0, 1)
    expected = set(h3i.grid_disk(cell, 12)) - set(h3i.grid_disk(cell, 11))
    ring = disk_cover._ring(cell, 12)
    assert len(ring) == len(set(ring))
    assert set(ring) == expected


def test_the_answer_is_the_smallest_proven_ring_count():
    cover = DiskCover()
    for cell in hard_places(8):
        k = cover.rings_for(cell, 1000.0)
        assert guaranteed_radius_m(cell, k) >= 1000.0
        assert k == 0 or guaranteed_radius_m(cell, k - 1) < 1000.0


def test_a_constant_too_small_would_miss_stores():
    """Why the count is computed: at res 9 a 4-ring disk misses points within 1 km."""
    rng = random.Random(3)
    cell = h3i.latlng_to_cell(31.23, 121.47, 9)
    disk4 = set(h3i.grid_disk(cell, 4))
    misses = 0
    for q in points_in(cell, rng, 20):
        for _ in range(200):
            p = destination(*q, rng.uniform(0, 2 * math.pi), rng.uniform(950.0, 1000.0))  # near the circle
            misses += h3i.latlng_to_cell(*p, 9) not in disk4
    assert misses > 0
    assert DiskCover().rings_for(cell, 1000.0) > 4


def test_remembered_cell_geometry_gives_the_same_proofs_and_stays_bounded(monkeypatch):
    cells = hard_places(8) + [h3i.latlng_to_cell(31.2 + i / 50, 121.4, 8) for i in range(10)]
    measured_afresh = {}
    for cell in cells:  # a fresh memo for every proof: nothing remembered
        monkeypatch.setattr(disk_cover, "_geometry", {})
        measured_afresh[cell] = [guaranteed_radius_m(cell, k) for k in range(4)]
    monkeypatch.setattr(disk_cover, "_geometry", {})
    monkeypatch.setattr(disk_cover, "_GEOMETRY_KEPT", 40)  # smaller than one proof's rings: cleared often
    for _ in range(2):
        for cell in cells:
            assert [guaranteed_radius_m(cell, k) for k in range(4)] == measured_afresh[cell]
            assert len(disk_cover._geometry) <= 40 + 64  # at most one proof's cells over the bound
