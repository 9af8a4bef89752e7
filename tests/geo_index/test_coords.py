import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo_index import (
    CoordinateError,
    CoordinateNotANumber,
    CoordinateOutOfRange,
    CoordinateWrongType,
    validate_lat,
    validate_latlng,
    validate_lng,
)


@pytest.mark.parametrize("value", ["39.9", "", None, True, False, [1.0], b"1"])
def test_non_numbers_are_refused_with_their_own_type(value):
    with pytest.raises(CoordinateWrongType):
        validate_lat(value)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, float("1e400")])
def test_nan_and_infinities_are_refused(value):
    with pytest.raises(CoordinateNotANumber):
        validate_lng(value)


@pytest.mark.parametrize(("lat", "lng"), [(90.0001, 0), (-90.0001, 0), (0, 180.0001), (0, -180.0001)])
def test_out_of_range_is_refused_not_clamped(lat, lng):
    with pytest.raises(CoordinateOutOfRange):
        validate_latlng(lat, lng)


def test_edges_and_integers_are_accepted():
    assert validate_latlng(90, -180) == (90.0, -180.0)
    assert validate_latlng(-90.0, 180.0) == (-90.0, 180.0)


def test_error_names_the_field():
    with pytest.raises(CoordinateOutOfRange) as caught:
        validate_lng(200)
    assert caught.value.field == "lng" and "between -180 and 180" in str(caught.value)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-1000, 1000), st.text(max_size=8),
                 st.none(), st.booleans()),
       st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-1000, 1000), st.none()))
def test_any_input_is_accepted_in_range_or_refused_with_a_coordinate_error(lat, lng):
    try:
        got_lat, got_lng = validate_latlng(lat, lng)
    except CoordinateError:
        return
    assert isinstance(got_lat, float) and isinstance(got_lng, float)
    assert math.isfinite(got_lat) and math.isfinite(got_lng)
    assert -90 <= got_lat <= 90 and -180 <= got_lng <= 180
    assert (got_lat, got_lng) == (float(lat), float(lng))  # accepted means unchanged, never clamped
