"""Reading wrk's report: what `lbs bench http` takes from it when wrk drives the closed loops."""

import pytest

from lbs_bench.wrk import parse_wrk

REPORT = """Running 3s test @ http://127.0.0.1:8801
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.56ms  598.61us   1.02s    79.92%
    Req/Sec     5.15k     0.89k    6.16k    71.43%
  Latency Distribution
     50%  812.00us
     75%    1.69ms
     90%    2.38ms
     99%    3.38ms
  10765 requests in 2.10s, 81.11MB read
  Socket errors: connect 0, read 2, write 1, timeout 4
  Non-2xx or 3xx responses: 5
Requests/sec:   5125.38
Transfer/sec:     38.62MB
"""


def test_a_report_gives_requests_rate_percentiles_and_errors():
    result = parse_wrk(REPORT)
    assert result.requests == 10765 and result.seconds == pytest.approx(2.10)
    assert result.rps == pytest.approx(10765 / 2.10)
    assert result.p50_ms == pytest.approx(0.812) and result.p99_ms == pytest.approx(3.38)
    assert result.max_ms == pytest.approx(1020.0)
    assert result.errors == 2 + 1 + 4 + 5


def test_a_report_without_errors_counts_none_and_minutes_are_minutes():
    clean = "\n".join(line for line in REPORT.splitlines() if "errors" not in line and "Non-2xx" not in line)
    result = parse_wrk(clean.replace("requests in 2.10s", "requests in 1.00m"))
    assert result.errors == 0 and result.seconds == pytest.approx(60.0)


def test_a_report_that_is_not_wrk_s_is_refused():
    with pytest.raises(RuntimeError, match="has no"):
        parse_wrk("wrk: connection refused")
