"""Coverage cost is bounded and known before it starts: the attack that pinned a core (a few cells at
a 10 km radius) is cheap, a request past the budget is refused with its figures before any work, the
answer streams and stops when the client leaves, and each planner gets two requests at a time (a page's pair) and a
rate."""

import asyncio
import time

import httpx

from lbs_service import metrics
from tests.conftest import client_for, operator_headers
from tests.faults.report import FaultRun, record
from tests.live import live_server, token
from tests.service.test_nearby_api import seed

TINY = "118.770,32.040,118.775,32.043"  # a few res-9 cells in the middle of 2,400 stores
WIDE = "118.60,31.90,118.95,32.20"


def test_the_attack_is_cheap_and_a_request_past_the_budget_is_refused_before_work(sqlite_settings):
    seed(sqlite_settings, count=2400)
    settings = sqlite_settings.model_copy(update={"coverage_max_work": 1e6})
    with client_for(settings) as client:
        op = operator_headers(settings)
        started = time.monotonic()
        attack = client.get("/v1/coverage", headers=op, params={"bbox": TINY, "res": 9, "radius_m": 10_000})
        cheap = time.monotonic() - started
        assert attack.status_code == 200 and attack.json()["numberMatched"] >= 1
        assert all(f["properties"]["stores_within"] > 1000 for f in attack.json()["features"])  # 10 km reaches them
        chunks_before = metrics.value("lbs_coverage_chunks_total")
        started = time.monotonic()
        refused = client.get("/v1/coverage", headers=op, params={"bbox": WIDE, "res": 9, "radius_m": 10_000})
        refusing = time.monotonic() - started
        assert refused.status_code == 422 and "would cost about" in refused.json()["detail"]
        assert metrics.value("lbs_coverage_chunks_total") == chunks_before  # nothing was measured
    record(FaultRun("coverage past its budget (refused before work)", 2, 0, 0, 0, 0, 0))
    print(f"\ncoverage: 10 km around a few cells {cheap:.2f} s; a refusal {refusing:.2f} s")


def test_two_at_a_time_per_planner_and_a_rate(sqlite_settings):
    seed(sqlite_settings, count=600)
    settings = sqlite_settings.model_copy(update={"rate_limit_rules": {"coverage": (2, 60)}})
    with client_for(settings) as client:
        services = client.app.state.services
        slots = [services.coverage_gate.reserve("operator") for _ in range(2)]  # as if two of theirs were running
        op = operator_headers(settings)
        busy = client.get("/v1/coverage", headers=op, params={"bbox": TINY})
        assert busy.status_code == 429 and int(busy.headers["retry-after"]) >= 1
        other = {"Authorization": f"Bearer {token(settings, 'merchant', 'm2', merchant_id=1)}"}
        assert client.get("/v1/coverage", headers=other, params={"bbox": TINY}).status_code == 200
        slots[0].release()
        assert client.get("/v1/coverage", headers=op, params={"bbox": TINY}).status_code == 200
        assert client.get("/v1/coverage", headers=op, params={"bbox": TINY}).status_code == 429  # 2 a minute
        slots[1].release()
        slots[1].release()  # twice: still one slot given back
        assert services.coverage_gate.running == 0  # every slot given back, refusals included


async def test_a_client_that_leaves_stops_the_work(sqlite_settings):
    seed(sqlite_settings, count=2400)
    with live_server(sqlite_settings) as host:
        before = metrics.value("lbs_coverage_chunks_total")
        params = {"bbox": WIDE, "res": 9, "radius_m": 500}
        async with httpx.AsyncClient(base_url=f"http://{host}", timeout=30) as http, http.stream(
                "GET", "/v1/coverage", headers=operator_headers(sqlite_settings), params=params) as response:
            assert response.status_code == 200
            async for _ in response.aiter_bytes():
                break  # the planner closes the tab
        await asyncio.sleep(1.5)
        measured = metrics.value("lbs_coverage_chunks_total") - before
        await asyncio.sleep(1.0)
        after = metrics.value("lbs_coverage_chunks_total") - before
    total_chunks = 130_000 // 10_000  # the area holds some 130,000 res-9 cells
    assert measured == after <= 3 < total_chunks  # the work stopped with the client
