"""A worker killed (SIGKILL) in the middle of a stream of fixes: its consoles and users reconnect
to the other worker, the consoles with the last id they saw, and every committed arrival is shown
exactly once; what the dead worker committed but had not relayed goes out from the survivor."""

import asyncio
import contextlib
import json
import os
import signal
import uuid
from collections import Counter

import pytest

from lbs_service.settings import Settings
from tests.conftest import forget_redis_prefix
from tests.faults.report import FaultRun, record
from tests.faults.scenario import console, row_of_stores, shown_once, walk_fix
from tests.live import token, ws_connect
from tests.processes import start_server, stop_server

pytestmark = pytest.mark.postgis
USERS = 8


async def _user(host, settings: Settings, user: int, sent: list[int], stop: asyncio.Event) -> None:
    """Walks from store to store over a websocket, reconnecting wherever a worker is left."""
    step = 0
    while not stop.is_set():
        with contextlib.suppress(Exception):
            async with ws_connect(host(), f"/v1/ws/user?token={token(settings, 'user', f'u{user}')}") as ws:
                while not stop.is_set():
                    await ws.send(json.dumps({"type": "location", **walk_fix(user, step)}))
                    step += 1
                    sent[0] += 1
                    await asyncio.sleep(0.05)
        await asyncio.sleep(0.1)


def test_killed_worker_loses_no_committed_alert(pg_settings):
    prefix = f"kill{uuid.uuid4().hex[:6]}"
    redis_url = os.environ["LBS_TEST_REDIS_URL"]
    settings = Settings(database_url=pg_settings.database_url, redis_url=redis_url, redis_prefix=prefix)
    store_ids = row_of_stores(settings)
    env = {"LBS_DATABASE_URL": settings.database_url, "LBS_REDIS_URL": redis_url, "LBS_REDIS_PREFIX": prefix,
           "LBS_RATE_LIMITS": "off", "LBS_STAFF_ALERTS": "all", "LBS_SECRET_KEY": settings.secret_key}
    first, victim = start_server(env)
    second, survivor = start_server(env)
    alive = [first]  # where clients connect: the first worker until it dies, then the second
    seen: list[tuple] = []
    sent = [0]
    connections: Counter = Counter()
    try:

        async def run() -> None:
            stop_users, stop_consoles = asyncio.Event(), asyncio.Event()
            consoles = [asyncio.create_task(console(lambda: alive[0], settings, s, seen, stop_consoles, connections))
                        for s in store_ids]
            await asyncio.sleep(1.0)
            users = [asyncio.create_task(_user(lambda: alive[0], settings, u, sent, stop_users)) for u in range(USERS)]
            await asyncio.sleep(3.0)
            os.kill(victim.pid, signal.SIGKILL)  # no shutdown, no goodbye
            alive[0] = second
            await asyncio.sleep(4.0)
            stop_users.set()
            await asyncio.gather(*users)
            for _ in range(100):
                if len({s[:3] for s in seen}) >= len(shown_once(settings, seen)[0]):
                    break
                await asyncio.sleep(0.2)
            await asyncio.sleep(1.0)
            stop_consoles.set()
            await asyncio.gather(*consoles)

        asyncio.run(run())
    finally:
        stop_server(victim)
        stop_server(survivor)
        forget_redis_prefix(redis_url, prefix)
    committed, shown = shown_once(settings, seen)
    record(FaultRun("a worker killed mid-stream", sent[0], 0, 0, len(committed), len(committed - set(shown)),
                    sum(n - 1 for n in shown.values())))
    assert all(count >= 2 for count in connections.values())  # every console moved to the survivor
    assert len(committed) > 20
    assert set(shown) == committed and max(shown.values()) == 1
