"""`lbs bench ws-floor` on a small load: every message it sends is read by the bare endpoint, and the
server's CPU is measured from /proc (it did some work, and not more than the load's wall time)."""

import os

import pytest

from lbs_bench.cpu import cpu_seconds
from lbs_bench.report import generated_block
from lbs_bench.ws_floor import IMPLEMENTATIONS, WsFloorConfig, run_ws_floor


def test_every_message_is_read_and_costed_for_each_implementation():
    report = run_ws_floor(WsFloorConfig(rate=400.0, seconds=1.0, connections=8), say=lambda _: None)
    assert [r["implementation"] for r in report["results"]] == list(IMPLEMENTATIONS)
    for result in report["results"]:
        assert result["sent"] == 400 and result["received"] == result["sent"]
        assert 0 < result["server_cpu_s"] <= result["seconds"] + 0.05  # one single-threaded loop
        assert result["server_us_per_message"] > 0 and result["client_us_per_message"] > 0
    page = generated_block({"ws-floor": report}, None)
    for result in report["results"]:
        assert f"| {result['implementation']} | " in page and f"{result['server_us_per_message']:.1f}" in page


def test_a_gone_process_is_an_error_not_zero():
    assert cpu_seconds([os.getpid()]) > 0
    with pytest.raises(ProcessLookupError):
        cpu_seconds([os.getpid(), 2**22 + 12345])  # above Linux's largest pid: never a live process
