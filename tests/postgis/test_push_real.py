"""The push path on real PostGIS + Redis with two server processes and a real GeoLife trajectory:
every expected arrival reaches the right console exactly once and in order, across processes."""

import asyncio
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import redis

from lbs_bench.geolife import read_plt
from lbs_service.storage.db import Database
from lbs_service.storage.models import Store
from tests.live import drain, receive, token, ws_connect
from tests.processes import lbs_servers
from tests.reference import haversine_m, need_shared

pytestmark = [pytest.mark.postgis, pytest.mark.redis]
HELD_OUT = "001/Trajectory/20081026081229.plt"


def brute_force_entries(fixes, lats, lngs, ids, radius=1000.0):
    """Arrivals of API.md with dwell 0, exit radius = radius, filters off: (fix index, store) in order."""
    arrivals, before, last_ts = [], set(), None
    for n, f in enumerate(fixes):
        if last_ts is not None and f.ts < last_ts:
            continue  # out of order: dropped, as the service must
        last_ts = f.ts
        d = haversine_m(f.lat, f.lng, lats, lngs)
        inside = np.flatnonzero(d <= radius)
        now = {int(ids[i]): float(d[i]) for i in inside}
        arrivals += [(n, s) for s in sorted(set(now) - before, key=lambda s: (now[s], s))]
        before = set(now)
    return arrivals


@pytest.fixture
def china(pg_settings):
    source = need_shared("stores_cn_starbucks_2024.csv")
    trajectory = read_plt(need_shared("geolife") / HELD_OUT)
    env = {"LBS_DATABASE_URL": pg_settings.database_url}
    run = subprocess.run([sys.executable, "-m", "lbs_service.cli", "import", "stores", str(source), "--crs", "gcj02",
                          "--merchant", "Starbucks", "--default-category", "cafe"], env={**os.environ, **env},
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-1000:]
    with Database(pg_settings).session() as session:
        stores = [(s.id, s.lat, s.lng) for s in session.query(Store)]
    ids = np.array([s[0] for s in stores])
    lats, lngs = np.array([s[1] for s in stores]), np.array([s[2] for s in stores])
    redis.Redis.from_url(os.environ["LBS_TEST_REDIS_URL"]).flushdb()  # the test database (db 9) only
    return pg_settings, trajectory, ids, lats, lngs


def fix_message(f):
    return json.dumps({"type": "location", "lat": f.lat, "lng": f.lng, "accuracy_m": 10, "ts": f.ts.isoformat()})


async def test_trajectory_across_two_processes_matches_brute_force(china):
    settings, trajectory, ids, lats, lngs = china
    expected = brute_force_entries(trajectory, lats, lngs, ids)
    expected_by_store: dict[int, int] = {}
    for _, store in expected:
        expected_by_store[store] = expected_by_store.get(store, 0) + 1
    assert len(expected) > 20
    env = {"LBS_DATABASE_URL": settings.database_url, "LBS_REDIS_URL": os.environ["LBS_TEST_REDIS_URL"],
           "LBS_FENCE_DWELL_S": "0", "LBS_FENCE_EXIT_RADIUS_M": "1000", "LBS_FENCE_MAX_ACCURACY_M": "0",
           "LBS_FENCE_MAX_SPEED_MPS": "0", "LBS_RATE_LIMITS": "off",
           "LBS_STAFF_ALERTS": "all", "LBS_ARRIVE_RADIUS_M": "1000"}  # API.md's equivalence: cards are entries
    with lbs_servers(env, 2) as (user_host, console_host):
        consoles = {}
        for store in expected_by_store:
            consoles[store] = await ws_connect(console_host, f"/v1/ws/stores/{store}?token="
                                                             f"{token(settings, 'staff', 's', store)}").__aenter__()
        dropped_store = expected[0][1]
        async with ws_connect(user_host, f"/v1/ws/user?token={token(settings, 'user', 'geolife-001')}") as user:
            for n, f in enumerate(trajectory):
                await user.send(fix_message(f))
                if n == len(trajectory) // 3:  # drop one console mid-run
                    first_part = await drain(consoles[dropped_store], 1.0)
                    await consoles[dropped_store].close()
            await asyncio.sleep(1.0)
        received: dict[int, list[dict]] = {}
        for store, ws in consoles.items():
            if store != dropped_store:
                received[store] = await drain(ws, 1.5)
                await ws.close()
        last = first_part[-1]["id"] if first_part else 0
        async with ws_connect(console_host, f"/v1/ws/stores/{dropped_store}?token="
                                            f"{token(settings, 'staff', 's', dropped_store)}&last_id={last}") as again:
            received[dropped_store] = first_part + await drain(again, 1.5)
        # A store-A token cannot open store B's console.
        a, b = list(expected_by_store)[:2]
        async with ws_connect(console_host, f"/v1/ws/stores/{b}?token={token(settings, 'staff', 's', a)}") as ws:
            with pytest.raises(Exception) as refused:
                await receive(ws)
            assert "4403" in str(refused.value)
    for store, messages in received.items():
        arrivals = [m for m in messages if m["type"] == "arrival"]
        assert len(arrivals) == expected_by_store[store], store
        assert [m["id"] for m in arrivals] == sorted({m["id"] for m in arrivals})  # in order, no duplicates
        assert all(m["store_id"] == store and "lat" not in m for m in arrivals)
    # The global order of arrivals (by the outbox) equals the brute-force order.
    with Database(settings).session() as session:
        from lbs_service.storage.models import OutboxMessage

        rows = session.query(OutboxMessage).order_by(OutboxMessage.id).all()
    recorded = [r.payload["store_id"] for r in rows if r.payload["type"] == "arrival"]
    assert recorded == [store for _, store in expected]
    assert all(r.relayed_at is not None for r in rows)
