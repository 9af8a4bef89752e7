from datetime import UTC, datetime

import pytest

from lbs_service.hours import HoursError, is_open, parse_hours, parse_timezone

SHANGHAI = parse_timezone("Asia/Shanghai")


def at(text):  # a UTC instant; Shanghai is UTC+8
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_open_now_uses_the_stores_own_time_zone():
    spans = parse_hours({"mon": [["09:00", "18:00"]]})
    assert is_open(spans, SHANGHAI, at("2026-11-23T02:00"))  # Monday 10:00 in Shanghai
    assert not is_open(spans, SHANGHAI, at("2026-11-23T10:30"))  # Monday 18:30 in Shanghai
    assert not is_open(spans, SHANGHAI, at("2026-11-22T23:59"))  # still Monday 07:59 there


def test_overnight_spans_run_into_the_next_day():
    spans = parse_hours({"fri": [["22:00", "02:00"]]})
    assert is_open(spans, SHANGHAI, at("2026-11-27T15:00"))  # Friday 23:00
    assert is_open(spans, SHANGHAI, at("2026-11-27T17:30"))  # Saturday 01:30
    assert not is_open(spans, SHANGHAI, at("2026-11-27T18:30"))  # Saturday 02:30


def test_all_day_and_closed_days():
    spans = parse_hours({"sun": [["00:00", "24:00"]]})
    assert is_open(spans, SHANGHAI, at("2026-11-22T15:59"))  # Sunday 23:59
    assert not is_open(spans, SHANGHAI, at("2026-11-22T16:00"))  # Monday 00:00


@pytest.mark.parametrize("bad", [{"moon": []}, {"mon": [["9:00", "18:00"]]}, {"mon": [["24:30", "01:00"]]},
                                 {"mon": "09-18"}, {"mon": [["09:00"]]}, ["mon"]])
def test_bad_hours_are_refused(bad):
    with pytest.raises(HoursError):
        parse_hours(bad)
