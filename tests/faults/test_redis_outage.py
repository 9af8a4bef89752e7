"""Redis cut off for 5 s in the middle of a stream of fixes (every connection reset, new ones
refused, by a fault proxy in front of a Redis of the test's own): while it is away the service
answers 503 with Retry-After and never another 5xx; afterwards every committed arrival reaches
its store's console exactly once."""

import asyncio
import contextlib
import json
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime

import httpx
from sqlalchemy import select

from lbs_service.settings import Settings
from lbs_service.storage.db import Database
from lbs_service.storage.migrate import upgrade
from lbs_service.storage.models import OutboxMessage
from lbs_service.storage.stores import StoreRepository
from tests.faults.fault_proxy import fault_proxy
from tests.faults.report import FaultRun, record
from tests.faults.servers import own_redis
from tests.live import live_server, token, ws_connect

STORES = 12
USERS = 8


def _stores() -> list[dict]:
    """A row of stores 3 km apart: each fix at a store enters that store's fence and no other."""
    return [{"source_id": f"R{i}", "name": f"Row {i}", "category": "cafe", "hours": None, "timezone": "Asia/Shanghai",
             "status": "open", "attributes": {}, "lat": 32.0, "lng": 118.5 + i * 0.032, "address": None, "phone": None}
            for i in range(STORES)]


async def _console(host: str, settings: Settings, store_id: int, seen: list[tuple], stop: asyncio.Event) -> None:
    """A console as the page runs it: on any close it reconnects with the last id it saw."""
    last_id = None
    while not stop.is_set():
        query = f"token={token(settings, 'staff', f'staff-{store_id}', store_id)}"
        if last_id is not None:
            query += f"&last_id={last_id}"
        with contextlib.suppress(Exception):
            async with ws_connect(host, f"/v1/ws/stores/{store_id}?{query}") as ws:
                while not stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        message = json.loads(await asyncio.wait_for(ws.recv(), 0.2))
                        if message["type"] == "arrival":
                            seen.append((message["store_id"], message["user_ref"], message["ts"], message["id"]))
                        last_id = message.get("id", last_id)
        await asyncio.sleep(0.2)


def _walk(base: str, settings: Settings, user: int, statuses: Counter, retry_after: list[str], stop: threading.Event
          ) -> None:
    """Fixes from store to store (and out between them), one request each, resent after a 503."""
    headers = {"Authorization": f"Bearer {token(settings, 'user', f'walker-{user}')}"}
    step = 0
    with httpx.Client(base_url=f"http://{base}", timeout=30) as client:
        while not stop.is_set():
            store = (user + step // 2) % STORES
            lat = 32.0 if step % 2 == 0 else 32.05  # at the store, then 5.5 km north of the row
            fix = {"lat": lat, "lng": 118.5 + store * 0.032, "accuracy_m": 10,
                   "ts": datetime.now(UTC).isoformat()}
            response = client.post("/v1/users/me/locations", json={"fixes": [fix]}, headers=headers)
            statuses[response.status_code] += 1
            if response.status_code == 503:
                retry_after.append(response.headers.get("retry-after", ""))
                time.sleep(0.2)
                continue
            step += 1
            time.sleep(0.05)


def test_redis_outage_gives_503_then_every_committed_alert_once(tmp_path):
    with own_redis() as redis_port, fault_proxy("127.0.0.1", redis_port) as proxy:
        settings = Settings(database_url="", sqlite_path=tmp_path / "lbs.sqlite3",
                            redis_url=f"redis://127.0.0.1:{proxy.port}/0", redis_prefix=f"fault{uuid.uuid4().hex[:6]}",
                            rate_limits=False, change_feed_poll_s=0.05)
        upgrade(settings)
        StoreRepository(Database(settings)).upsert_many("Row", _stores())
        with live_server(settings) as base:
            with Database(settings).session() as session:
                from lbs_service.storage.models import Store

                store_ids = [s.id for s in session.scalars(select(Store))]
            seen: list[tuple] = []
            statuses: Counter = Counter()
            retry_after: list[str] = []

            async def run() -> None:
                stop_consoles = asyncio.Event()
                consoles = [asyncio.create_task(_console(base, settings, s, seen, stop_consoles)) for s in store_ids]
                await asyncio.sleep(1.0)
                stop_walkers = threading.Event()
                walkers = [threading.Thread(target=_walk, args=(base, settings, u, statuses, retry_after,
                                                                stop_walkers)) for u in range(USERS)]
                for walker in walkers:
                    walker.start()
                await asyncio.sleep(3.0)
                proxy.set("reset")  # Redis gone: every connection cut, new ones refused
                await asyncio.sleep(5.0)
                proxy.set("pass")
                await asyncio.sleep(4.0)
                stop_walkers.set()
                for walker in walkers:
                    await asyncio.to_thread(walker.join, 30)
                committed = _committed_alerts(settings)
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline and len({s[:3] for s in seen}) < len(committed):
                    await asyncio.sleep(0.2)
                await asyncio.sleep(1.0)  # anything late and duplicated would show up now
                stop_consoles.set()
                await asyncio.gather(*consoles)

            asyncio.run(run())
    committed = _committed_alerts(settings)
    shown = Counter(s[:3] for s in seen)
    record(FaultRun("Redis cut off for 5 s during fixes", sum(statuses.values()),
                    sum(n for code, n in statuses.items() if code >= 500 and code != 503), statuses[503],
                    len(committed), len(committed - set(shown)), sum(n - 1 for n in shown.values())))
    assert statuses[503] > 0, "the outage never reached a request"
    assert all(code < 500 or code == 503 for code in statuses), statuses
    assert all(value.isdigit() and int(value) >= 1 for value in retry_after)
    assert len(committed) > 20
    assert set(shown) == set(committed)  # every committed alert reached its console...
    assert max(shown.values()) == 1  # ...exactly once


def _committed_alerts(settings: Settings) -> set[tuple]:
    with Database(settings).session() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.channel.like("%store%"))).all()
        return {(r.payload["store_id"], r.payload["user_ref"], r.payload["ts"]) for r in rows
                if r.payload.get("type") == "arrival"}
