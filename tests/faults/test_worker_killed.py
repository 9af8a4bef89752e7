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
from datetime import UTC, datetime

import pytest
import redis
from sqlalchemy import select

from lbs_service.settings import Settings
from lbs_service.storage.db import Database
from lbs_service.storage.models import OutboxMessage, Store
from lbs_service.storage.stores import StoreRepository
from tests.faults.report import FaultRun, record
from tests.faults.test_redis_outage import STORES, _stores
from tests.live import token, ws_connect
from tests.processes import start_server, stop_server

pytestmark = pytest.mark.postgis
USERS = 8


class Hosts:
    """Where clients connect: the first worker until it dies, then the second."""

    def __init__(self, first: str, second: str) -> None:
        self.alive = [first, second]

    def pick(self, n: int) -> str:
        return self.alive[n % len(self.alive)]


async def _console(hosts: Hosts, settings: Settings, store_id: int, seen: list[tuple], reconnects: Counter,
                   stop: asyncio.Event) -> None:
    last_id = None
    while not stop.is_set():
        query = f"token={token(settings, 'staff', f'staff-{store_id}', store_id)}"
        if last_id is not None:
            query += f"&last_id={last_id}"
        with contextlib.suppress(Exception):
            async with ws_connect(hosts.pick(0), f"/v1/ws/stores/{store_id}?{query}") as ws:
                reconnects[store_id] += 1
                while not stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        message = json.loads(await asyncio.wait_for(ws.recv(), 0.2))
                        if message["type"] == "arrival":
                            seen.append((message["store_id"], message["user_ref"], message["ts"]))
                        last_id = message.get("id", last_id)
        await asyncio.sleep(0.1)


async def _user(hosts: Hosts, settings: Settings, user: int, sent: list[int], stop: asyncio.Event) -> None:
    """Walks from store to store over a websocket, reconnecting wherever a worker is left."""
    step = 0
    while not stop.is_set():
        with contextlib.suppress(Exception):
            async with ws_connect(hosts.pick(0), f"/v1/ws/user?token={token(settings, 'user', f'u{user}')}") as ws:
                while not stop.is_set():
                    store = (user + step // 2) % STORES
                    await ws.send(json.dumps({"type": "location", "lat": 32.0 if step % 2 == 0 else 32.05,
                                              "lng": 118.5 + store * 0.032, "accuracy_m": 10,
                                              "ts": datetime.now(UTC).isoformat()}))
                    step += 1
                    sent[0] += 1
                    await asyncio.sleep(0.05)
        await asyncio.sleep(0.1)


def test_killed_worker_loses_no_committed_alert(pg_settings):
    prefix = f"kill{uuid.uuid4().hex[:6]}"
    redis_url = os.environ["LBS_TEST_REDIS_URL"]
    settings = Settings(database_url=pg_settings.database_url, redis_url=redis_url, redis_prefix=prefix)
    StoreRepository(Database(settings)).upsert_many("Row", _stores())
    with Database(settings).session() as session:
        store_ids = list(session.scalars(select(Store.id)))
    env = {"LBS_DATABASE_URL": settings.database_url, "LBS_REDIS_URL": redis_url, "LBS_REDIS_PREFIX": prefix,
           "LBS_RATE_LIMITS": "off", "LBS_SECRET_KEY": settings.secret_key}
    first, victim = start_server(env)
    second, survivor = start_server(env)
    seen: list[tuple] = []
    sent = [0]  # fixes sent
    reconnects: Counter = Counter()
    try:
        hosts = Hosts(first, second)

        async def run() -> None:
            stop_users, stop_consoles = asyncio.Event(), asyncio.Event()
            consoles = [asyncio.create_task(_console(hosts, settings, s, seen, reconnects, stop_consoles))
                        for s in store_ids]
            await asyncio.sleep(1.0)
            users = [asyncio.create_task(_user(hosts, settings, u, sent, stop_users)) for u in range(USERS)]
            await asyncio.sleep(3.0)
            os.kill(victim.pid, signal.SIGKILL)  # no shutdown, no goodbye
            hosts.alive = [second]
            await asyncio.sleep(4.0)
            stop_users.set()
            await asyncio.gather(*users)
            committed = _committed(settings)
            for _ in range(100):
                if len(set(seen)) >= len(committed):
                    break
                await asyncio.sleep(0.2)
            await asyncio.sleep(1.0)
            stop_consoles.set()
            await asyncio.gather(*consoles)

        asyncio.run(run())
    finally:
        stop_server(victim)
        stop_server(survivor)
        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)
        client.close()
    committed = _committed(settings)
    shown = Counter(seen)
    record(FaultRun("a worker killed mid-stream", sent[0], 0, 0, len(committed), len(committed - set(shown)),
                    sum(n - 1 for n in shown.values())))
    assert all(count >= 2 for count in reconnects.values())  # every console moved to the survivor
    assert len(committed) > 20
    assert set(shown) == committed and max(shown.values()) == 1


def _committed(settings: Settings) -> set[tuple]:
    with Database(settings).session() as session:
        rows = session.scalars(select(OutboxMessage)).all()
        return {(r.payload["store_id"], r.payload["user_ref"], r.payload["ts"]) for r in rows
                if r.payload.get("type") == "arrival"}
