"""Redis killed under load and started again without its data (or a failover to a replica that is
behind): the streams start over, yet no console is left in silence. Every committed alert reaches
its store's console or that console is told to reset; everything committed after the restart is
delivered; nothing is shown twice."""

import asyncio
import contextlib
import json
import threading
import time
import uuid
from collections import Counter

from sqlalchemy import func, select

from lbs_service.settings import Settings
from lbs_service.storage.db import Database
from lbs_service.storage.migrate import upgrade
from lbs_service.storage.models import OutboxMessage
from tests.faults.report import FaultRun, record
from tests.faults.scenario import committed_alerts, row_of_stores, start_walkers
from tests.faults.servers import OwnRedis
from tests.live import live_server, token, ws_connect

USERS = 8


async def _console(host: str, settings: Settings, store_id: int, seen: list[tuple], resets: list[float],
                   stop: asyncio.Event) -> None:
    """A console as the page runs it: reconnects with its last id; notes every arrival and reset."""
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
                        if message["type"] == "reset":
                            resets.append(time.monotonic())
                        elif message["type"] == "arrival":
                            seen.append((message["store_id"], message["user_ref"], message["ts"], message["id"]))
                        last_id = message.get("id", last_id)
        await asyncio.sleep(0.1)


def _rows_after(settings: Settings, row_id: int) -> set[tuple]:
    with Database(settings).session() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.id > row_id)).all()
    return {(r.payload["store_id"], r.payload["user_ref"], r.payload["ts"]) for r in rows
            if r.payload.get("type") == "arrival"}


def _last_row(settings: Settings) -> int:
    with Database(settings).session() as session:
        return int(session.scalar(select(func.coalesce(func.max(OutboxMessage.id), 0))) or 0)


def test_redis_restarted_empty_mid_stream_leaves_no_console_in_silence(tmp_path):
    redis = OwnRedis()
    redis.start()
    try:
        settings = Settings(database_url="", sqlite_path=tmp_path / "lbs.sqlite3",
                            redis_url=f"redis://127.0.0.1:{redis.port}/0", redis_prefix=f"rs{uuid.uuid4().hex[:6]}",
                            rate_limits=False, staff_alerts="all", change_feed_poll_s=0.05, stream_reconcile_s=1.0)
        upgrade(settings)
        store_ids = row_of_stores(settings)
        seen: list[tuple] = []
        resets: dict[int, list[float]] = {s: [] for s in store_ids}
        statuses: Counter = Counter()
        marks: dict[str, float | int] = {}
        with live_server(settings) as base:

            async def run() -> None:
                stop_consoles, stop_walkers = asyncio.Event(), threading.Event()
                consoles = [asyncio.create_task(_console(base, settings, s, seen, resets[s], stop_consoles))
                            for s in store_ids]
                await asyncio.sleep(1.0)
                walkers = start_walkers(base, settings, USERS, statuses, [], stop_walkers)
                await asyncio.sleep(3.0)
                marks["killed"] = time.monotonic()
                redis.kill()  # every stream, counter and dedupe set is gone
                await asyncio.sleep(0.5)
                redis.start()  # back, empty
                await asyncio.sleep(1.0)
                marks["row"] = await asyncio.to_thread(_last_row, settings)
                await asyncio.sleep(4.0)
                stop_walkers.set()
                for walker in walkers:
                    await asyncio.to_thread(walker.join, 30)
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline and not _rows_after(settings, int(marks["row"])) <= {
                        s[:3] for s in seen}:
                    await asyncio.sleep(0.2)
                await asyncio.sleep(1.0)
                stop_consoles.set()
                await asyncio.gather(*consoles)

            asyncio.run(run())
        committed = committed_alerts(settings)
        shown = Counter(s[:3] for s in seen)
        after_restart = _rows_after(settings, int(marks["row"]))
        silent = {alert for alert in committed - set(shown)
                  if not any(t >= marks["killed"] for t in resets[alert[0]])}
        record(FaultRun("Redis restarted empty mid-stream (epochs)", sum(statuses.values()),
                        sum(n for code, n in statuses.items() if code >= 500 and code != 503), statuses[503],
                        len(committed), len(silent), sum(n - 1 for n in shown.values())))
        print(f"\nredis restart: {len(committed)} committed, {len(committed - set(shown))} not shown (all announced"
              f" by a reset), {sum(len(r) for r in resets.values())} resets, {len(after_restart)} after the restart")
        assert len(committed) > 20 and len(after_restart) > 5
        assert silent == set()  # every alert shown, or its console told to reset: never silence
        assert after_restart <= set(shown)  # what came after the restart is all delivered
        assert max(shown.values()) == 1
        assert all(code < 500 or code == 503 for code in statuses), statuses
    finally:
        redis.stop()
