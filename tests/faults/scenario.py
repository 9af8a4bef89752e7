"""The scenario the fault tests share: a row of stores, consoles that reconnect with their last id,
users walking from store to store, and the check that every committed alert was shown once."""

import asyncio
import contextlib
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import httpx
from sqlalchemy import select

from lbs_service.settings import Settings
from lbs_service.storage.db import Database
from lbs_service.storage.models import OutboxMessage, Store
from lbs_service.storage.stores import StoreRepository
from tests.clock import T0
from tests.live import token, ws_connect

STORES = 12


def row_of_stores(settings: Settings) -> list[int]:
    """Stores 3 km apart along a line: a fix at one enters its fence and no other. Returns their ids."""
    rows = [{"source_id": f"R{i}", "name": f"Row {i}", "category": "cafe", "hours": None, "timezone": "Asia/Shanghai",
             "status": "open", "attributes": {}, "lat": 32.0, "lng": 118.5 + i * 0.032, "address": None,
             "phone": None} for i in range(STORES)]
    StoreRepository(Database(settings)).upsert_many("Row", rows)
    with Database(settings).session() as session:
        return list(session.scalars(select(Store.id).order_by(Store.id)))


def walk_fix(user: int, step: int) -> dict:
    """At a store on even steps, 5.5 km north of the row on odd ones."""
    store = (user + step // 2) % STORES
    return {"lat": 32.0 if step % 2 == 0 else 32.05, "lng": 118.5 + store * 0.032, "accuracy_m": 10,
            "ts": (T0 + timedelta(seconds=step)).isoformat()}


async def console(host: Callable[[], str], settings: Settings, store_id: int, seen: list[tuple],
                  stop: asyncio.Event, connections: Counter | None = None) -> None:
    """A console as the page runs it: on any close it reconnects (wherever `host()` says) with the
    last id it saw. Appends (store_id, user_ref, ts, id) for every arrival shown."""
    last_id = None
    while not stop.is_set():
        query = f"token={token(settings, 'staff', f'staff-{store_id}', store_id)}"
        if last_id is not None:
            query += f"&last_id={last_id}"
        with contextlib.suppress(Exception):
            async with ws_connect(host(), f"/v1/ws/stores/{store_id}?{query}") as ws:
                if connections is not None:
                    connections[store_id] += 1
                while not stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        message = json.loads(await asyncio.wait_for(ws.recv(), 0.2))
                        if message["type"] == "arrival":
                            seen.append((message["store_id"], message["user_ref"], message["ts"], message["id"]))
                        last_id = message.get("id", last_id)
        await asyncio.sleep(0.1)


def walk_over_http(base: str, settings: Settings, user: int, statuses: Counter, retry_after: list[str],
                   stop: threading.Event) -> None:
    """Fixes one request each, resent after a 503 (as a client honouring Retry-After, sooner)."""
    headers = {"Authorization": f"Bearer {token(settings, 'user', f'walker-{user}')}"}
    step = 0
    with httpx.Client(base_url=f"http://{base}", timeout=30) as client:
        while not stop.is_set():
            response = client.post("/v1/users/me/locations", json={"fixes": [walk_fix(user, step)]},
                                   headers=headers)
            statuses[response.status_code] += 1
            if response.status_code == 503:
                retry_after.append(response.headers.get("retry-after", ""))
                time.sleep(0.2)
                continue
            step += 1
            time.sleep(0.05)


def start_walkers(base: str, settings: Settings, users: int, statuses: Counter, retry_after: list[str],
                  stop: threading.Event) -> list[threading.Thread]:
    walkers = [threading.Thread(target=walk_over_http, args=(base, settings, u, statuses, retry_after, stop))
               for u in range(users)]
    for walker in walkers:
        walker.start()
    return walkers


def committed_alerts(settings: Settings) -> set[tuple]:
    """(store_id, user_ref, ts) of every arrival the database committed to the outbox."""
    with Database(settings).session() as session:
        rows = session.scalars(select(OutboxMessage)).all()
        return {(r.payload["store_id"], r.payload["user_ref"], r.payload["ts"]) for r in rows
                if r.payload.get("type") == "arrival"}


async def finish(walkers: list[threading.Thread], stop_walkers: threading.Event, settings: Settings,
                 seen: list[tuple], stop_consoles: asyncio.Event, wait_s: float = 30) -> None:
    """Stop the walkers, wait until the consoles have shown every committed alert (or time is up),
    give late duplicates a second to show, stop the consoles."""
    stop_walkers.set()
    for walker in walkers:
        await asyncio.to_thread(walker.join, 30)
    committed = committed_alerts(settings)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and len({s[:3] for s in seen}) < len(committed):
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)
    stop_consoles.set()


def shown_once(settings: Settings, seen: list[tuple]) -> tuple[set[tuple], Counter]:
    return committed_alerts(settings), Counter(s[:3] for s in seen)
