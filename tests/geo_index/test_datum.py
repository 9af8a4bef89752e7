import random

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from geo_index import Datum, UnknownDatum, convert, parse_datum
from geo_index.datum import EDGE_BAND_DEG, gcj02_to_wgs84, offset_weight, outside_china, wgs84_to_bd09, wgs84_to_gcj02
from tests.reference import math_haversine_m

CHINA_POINTS = [(39.99, 116.33), (31.23, 121.47), (22.54, 114.06), (45.75, 126.63), (29.65, 91.13)]


@pytest.mark.parametrize(("lat", "lng"), CHINA_POINTS)
def test_gcj02_offset_is_hundreds_of_metres_in_china(lat, lng):
    shifted = wgs84_to_gcj02(lat, lng)
    offset = math_haversine_m(lat, lng, *shifted)
    assert 50 < offset < 1000


def test_beijing_offset_matches_the_data_readme():
    # shared/data/README.md: "In Beijing the offset is about 560 m".
    assert 450 < math_haversine_m(39.99, 116.33, *wgs84_to_gcj02(39.99, 116.33)) < 700


@pytest.mark.parametrize("source", list(Datum))
@pytest.mark.parametrize("target", list(Datum))
def test_round_trips_to_a_millimetre(source, target):
    rng = random.Random(7)
    for _ in range(200):
        lat, lng = rng.uniform(18, 53), rng.uniform(74, 134)
        there = convert(lat, lng, source, target)
        back = convert(*there, target, source)
        assert math_haversine_m(lat, lng, *back) < 1e-3


def test_points_outside_china_are_not_shifted():
    for lat, lng in [(48.85, 2.35), (-33.9, 151.2), (40.7, -74.0), (0.5, 100.0), (60.0, 100.0)]:
        assert outside_china(lat, lng)
        assert wgs84_to_gcj02(lat, lng) == (lat, lng)
        assert gcj02_to_wgs84(lat, lng) == (lat, lng)


def test_bd09_is_gcj02_plus_baidus_own_offset():
    lat, lng = 32.04, 118.78
    bd = wgs84_to_bd09(lat, lng)
    gcj = wgs84_to_gcj02(lat, lng)
    assert 0.004 < bd[0] - gcj[0] < 0.008 and 0.005 < bd[1] - gcj[1] < 0.009


def test_unknown_datum_names_are_refused():
    assert parse_datum(" GCJ02 ") is Datum.GCJ02
    with pytest.raises(UnknownDatum):
        parse_datum("epsg:3857")


@hypothesis_settings(max_examples=400, deadline=None)
@given(st.floats(-89.9, 89.9), st.floats(-179.9, 179.9), st.sampled_from(list(Datum)), st.sampled_from(list(Datum)))
def test_any_point_round_trips_between_any_two_datums(lat, lng, source, target):
    there = convert(lat, lng, source, target)
    back = convert(*there, target, source)
    assert math_haversine_m(lat, lng, *back) < 1e-3


# The examples hypothesis found at the edge of the China rectangle (the first came back 434 m off),
# and points on both sides of every edge, at every distance that matters.
FALSIFYING = [(1.0, 72.004), (1.0, 72.00400001), (0.8293, 100.0), (55.8271, 120.0), (30.0, 137.8347)]
EDGES = [("lat", 0.8293, 100.0), ("lat", 55.8271, 100.0), ("lng", 72.004, 40.0), ("lng", 137.8347, 40.0)]
STEPS = [-0.5, -0.01, -1e-7, 0.0, 1e-7, 1e-4, 0.01, 0.1, EDGE_BAND_DEG, 0.5]


def _edge_points():
    for axis, edge, other in EDGES:
        for step in STEPS:
            for sign in (1, -1):
                value = edge + sign * step
                yield (value, other) if axis == "lat" else (other, value)


@pytest.mark.parametrize(("lat", "lng"), FALSIFYING + sorted(set(_edge_points())))
@pytest.mark.parametrize("target", [Datum.GCJ02, Datum.BD09])
def test_round_trips_on_both_sides_of_every_edge(lat, lng, target):
    back = convert(*convert(lat, lng, Datum.WGS84, target), target, Datum.WGS84)
    assert math_haversine_m(lat, lng, *back) < 1e-3
    if outside_china(lat, lng):
        assert wgs84_to_gcj02(lat, lng) == (lat, lng)
        assert gcj02_to_wgs84(lat, lng) == (lat, lng)


def test_the_offset_fades_in_only_near_the_edge_and_china_keeps_the_full_offset():
    assert offset_weight(1.0, 72.004) == 0.0 or offset_weight(1.0, 72.004) < 1e-6
    assert offset_weight(20.0, 72.004 + EDGE_BAND_DEG / 2) == pytest.approx(0.5)
    for lat, lng in [*CHINA_POINTS, (39.99, 73.6), (53.5, 122.3), (4.0, 112.3), (48.4, 134.7)]:
        assert offset_weight(lat, lng) == 1.0  # every corner of China: the providers' offset, untouched


@hypothesis_settings(max_examples=400, deadline=None)
@given(st.sampled_from(EDGES), st.floats(-0.3, 0.3), st.floats(-1.0, 1.0))
def test_any_point_near_an_edge_round_trips(edge, across, along):
    axis, value, other = edge
    lat, lng = (value + across, other + along) if axis == "lat" else (other + along, value + across)
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lat, lng))
    assert math_haversine_m(lat, lng, *back) < 0.5
