import random

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from geo_index import Datum, UnknownDatum, convert, parse_datum
from geo_index.datum import gcj02_to_wgs84, outside_china, wgs84_to_bd09, wgs84_to_gcj02
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
