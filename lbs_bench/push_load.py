"""`lbs bench push`: fixes per second through user websockets across two server processes, and
fix-to-staff-alert latency, with 25,000 store fences (the real China stores when present, plus
seeded synthetic stores).

It starts its own two `lbs serve` processes on PostGIS + Redis, in a database it creates
(`lbs_bench_push`) and a Redis key prefix of its own, and removes both when done.
"""

import asyncio
import contextlib
import json
import math
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psycopg
from websockets.asyncio.client import ClientConnection, connect

from lbs_bench.cpu import cpu_seconds
from lbs_bench.ports import stop
from lbs_bench.scratch import scratch
from lbs_bench.synthetic import clustered_points
from lbs_bench.timing import machine, no_client_pauses
from push.messages import store_channel

BEIJING = (39.98, 116.33)
DELIVERY_WAIT_S = 120.0  # after the load, how long a committed card may still arrive before it counts as lost


@dataclass(frozen=True)
class PushBenchConfig:
    database_url: str
    redis_url: str
    fences: int = 25_000
    users: int = 200
    fixes_per_user: int = 200
    consoles: int = 300
    rate: float = 0.0  # target fixes/s over all users; 0: as fast as the servers take them
    shared_data: Path | None = None
    arrival_heavy: bool = False  # every fourth fix enters a watched store's fence
    staff_alerts: str = "all"  # "all": a card per visit (what is timed); "intent": the product's default


def location_message(lat: float, lng: float) -> str:
    """A user socket's fix, stamped now. Formatted by hand: the client shares the machine with the
    servers, so it spends little."""
    stamp = datetime.now(UTC).isoformat()
    return f'{{"type":"location","lat":{lat:.7f},"lng":{lng:.7f},"accuracy_m":10,"ts":"{stamp}"}}'


def _store_file(config: PushBenchConfig, folder: Path) -> tuple[Path, str]:
    """A CSV of `fences` stores: the real China file (GCJ-02 -> converted on import) plus synthetic ones."""
    rows: list[tuple[str, float, float]] = []
    crs = "wgs84"
    real = config.shared_data / "stores_cn_starbucks_2024.csv" if config.shared_data else None
    if real and real.exists():
        import csv

        from geo_index.datum import gcj02_to_wgs84

        with real.open(encoding="utf-8") as handle:
            for r in csv.DictReader(handle):
                lat, lng = gcj02_to_wgs84(float(r["lat_gcj02"]), float(r["lon_gcj02"]))
                rows.append((f"real-{r['id']}", lat, lng))
    extra = clustered_points(max(0, config.fences - len(rows)), 99)
    rows += [(f"syn-{i}", float(a), float(b)) for i, (a, b) in enumerate(extra)]
    path = folder / "bench_push_stores.csv"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("id,name,lat,lng\n")
        handle.writelines(f"{i},Store {i},{a!r},{b!r}\n" for i, a, b in rows[: config.fences])
    return path, crs


@contextlib.contextmanager
def _servers(env: dict[str, str], ports: list[int]) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs = [subprocess.Popen([sys.executable, "-m", "lbs_service.cli", "serve", "--port", str(p), "--log-level",
                               "warning"], env={**os.environ, **env}) for p in ports]
    try:
        for port in ports:
            for _ in range(300):
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                        break
                time.sleep(0.2)
        yield procs
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            stop(proc)  # terminated above already: both stop at once, one left running is killed


def _token(role: str, subject: str, store_id: int | None = None) -> str:
    """Signed with the same settings (LBS_SECRET_KEY) the servers read from this environment."""
    from lbs_service.auth import Principal, mint_token
    from lbs_service.settings import Settings

    return mint_token(Settings(), Principal(role, subject, store_id))  # type: ignore[arg-type]


def _walks(config: PushBenchConfig, seed: int = 5) -> np.ndarray:
    """Users moving at 8 m/s (a fix a second: cycling, a bus) from points spread over Beijing's dense areas."""
    rng = np.random.default_rng(seed)
    starts = np.column_stack((rng.normal(BEIJING[0], 0.06, config.users), rng.normal(BEIJING[1], 0.06, config.users)))
    heading = rng.uniform(0, 2 * math.pi, config.users)
    steps = np.arange(config.fixes_per_user + 1)[None, :] * (8.0 / 111_195.0)
    lat = starts[:, 0:1] + np.cos(heading)[:, None] * steps
    lng = starts[:, 1:2] + np.sin(heading)[:, None] * steps / math.cos(math.radians(BEIJING[0]))
    return np.stack((lat, lng), axis=2)


def _arrival_walks(config: PushBenchConfig, stores: np.ndarray, away: np.ndarray) -> np.ndarray:
    """Every fourth fix at a watched store (a new one each time: an entry, and with the arrive radius
    at the fence radius an arrival), the three between at places no fence reaches (an exit)."""
    walks = np.empty((config.users, config.fixes_per_user + 1, 2))
    for user in range(config.users):
        for k in range(config.fixes_per_user + 1):
            if k % 4 == 0:
                walks[user, k] = stores[(user + k // 4) % len(stores)]
            else:
                walks[user, k] = away[(user * 3 + k) % len(away)]
    return walks


def _away_points(database: str, wanted: int) -> np.ndarray:
    """Points in the hills north-west of Beijing with no store within 1.5 km (past every exit radius)."""
    lats, lngs = np.meshgrid(np.linspace(40.30, 40.60, 40), np.linspace(115.60, 116.00, 40))
    candidates = np.column_stack((lats.ravel(), lngs.ravel()))
    with psycopg.connect(database) as db:
        clear = [db.execute("SELECT NOT EXISTS (SELECT 1 FROM stores WHERE ST_DWithin(geog, ST_SetSRID("
                            "ST_MakePoint(%s, %s), 4326)::geography, 1500))", (lng, lat)).fetchone() == (True,)
                 for lat, lng in candidates]
    away: np.ndarray = candidates[np.array(clear)]
    if len(away) < wanted:
        raise RuntimeError(f"only {len(away)} places clear of every store; the arrival-heavy run needs {wanted}")
    return away[:wanted]


START_BURST_S = 1.0  # cards of fixes sent in the walk's first second: the synchronised first step


@dataclass
class Received:
    """What the consoles saw: each card's delay from its fix, and every card's (channel, id)."""

    timed_from: float = math.inf
    latencies: list[float] = field(default_factory=list)
    sent_after: list[float] = field(default_factory=list)  # each timed card's fix: seconds into the timed walk
    cards: list[tuple[str, int]] = field(default_factory=list)
    visits: Counter[tuple[str, int]] = field(default_factory=Counter)  # cards per visit: a second is a duplicate


async def _run_load(hosts: list[str], walks: np.ndarray, user_tokens: list[str], consoles: list[tuple[int, str]],
                    rate: float, received: Received, committed: Callable[[], list[tuple[str, int | None]]],
                    server_pids: list[int]) -> dict[str, Any]:
    """Every user's first fix (entering all fences around it at once) is a warm-up, not timed;
    then the users move on at the target rate and each card's delay from its fix is timed."""

    async def watch(store: int, ws: ClientConnection) -> None:
        channel = store_channel(store)
        async for raw in ws:
            if '"arrival"' not in raw:  # the gauge and stage updates: not timed
                continue
            message = json.loads(raw)
            if message.get("type") == "arrival":
                received.cards.append((channel, message["id"]))
                received.visits[(channel, message["visit_id"])] += 1
                sent = datetime.fromisoformat(message["ts"]).timestamp()
                if sent >= received.timed_from:
                    received.latencies.append(time.time() - sent)
                    received.sent_after.append(sent - received.timed_from)

    console_sockets = [await connect(f"ws://{hosts[n % len(hosts)]}/v1/ws/stores/{store}?token={tok}",
                                     max_queue=None) for n, (store, tok) in enumerate(consoles)]
    watchers = [asyncio.create_task(watch(store, ws)) for (store, _), ws in zip(consoles, console_sockets, strict=True)]
    users = [await connect(f"ws://{hosts[n % len(hosts)]}/v1/ws/user?token={tok}")
             for n, tok in enumerate(user_tokens)]

    async def send(ws: ClientConnection, lat: float, lng: float) -> None:
        await ws.send(location_message(lat, lng))

    async def settled(ws: ClientConnection) -> None:
        await ws.send('{"type":"ping"}')  # answered once every earlier fix on this socket is processed
        async for raw in ws:
            if '"pong"' in raw and json.loads(raw).get("type") == "pong":
                return

    for n, ws in enumerate(users):
        await send(ws, *walks[n][0])
    await asyncio.gather(*(settled(ws) for ws in users))
    await asyncio.sleep(2.0)  # let the warm-up cards drain
    interval = len(users) / rate if rate > 0 else 0.0  # each user's share of the target rate

    async def move(n: int, ws: ClientConnection) -> None:
        await asyncio.sleep(interval * n / len(users))  # stagger, so the rate is even
        start = time.perf_counter()
        for k, (lat, lng) in enumerate(walks[n][1:]):
            if interval:
                await asyncio.sleep(max(0.0, start + k * interval - time.perf_counter()))
            await send(ws, lat, lng)
        await settled(ws)

    with no_client_pauses():  # cards are timed as they arrive: a pause of the client's would count
        received.timed_from = time.time()
        started = time.perf_counter()
        server_before, client_before = cpu_seconds(server_pids), time.process_time()
        await asyncio.gather(*(move(n, ws) for n, ws in enumerate(users)))
        elapsed = time.perf_counter() - started
        # While the fixes were sent and taken; the servers' commits and cards may still be pending.
        sending_s, client_s = cpu_seconds(server_pids) - server_before, time.process_time() - client_before
        for ws in users:
            await ws.close()
        # The servers may still be committing and delivering: wait until no new card is committed and
        # every committed one was shown (late is not lost), at most DELIVERY_WAIT_S.
        deadline = time.monotonic() + DELIVERY_WAIT_S
        seen_before = -1
        while time.monotonic() < deadline:
            await asyncio.sleep(1.0)
            now_committed = await asyncio.to_thread(committed)
            shown = set(received.cards)
            if len(now_committed) == seen_before and all(card in shown for card in now_committed):
                break
            seen_before = len(now_committed)
        # Everything the fixes caused, delivered (with up to a second of idle polling at the end).
        server_s = cpu_seconds(server_pids) - server_before
    for task in watchers:
        task.cancel()
    for ws in console_sockets:
        await ws.close()
    total = walks.shape[0] * (walks.shape[1] - 1)
    lat_ms = np.array(received.latencies) * 1e3 if received.latencies else np.array([float("nan")])
    # Every user takes the first step at once (staggered over one interval): a burst of "approaching"
    # cards at the start that steady walking does not have. Reported apart, as well as counted above.
    steady = lat_ms[np.array(received.sent_after) >= START_BURST_S] if received.latencies else lat_ms
    steady = steady if steady.size else np.array([float("nan")])
    return {"fixes": total, "seconds": elapsed, "offered_per_s": rate or None, "fixes_per_s": total / elapsed,
            "server_cpu_us_per_fix": server_s / total * 1e6, "server_cpu_us_per_fix_while_sending":
            sending_s / total * 1e6, "client_cpu_us_per_fix": client_s / total * 1e6,
            "alerts_timed": len(received.latencies), "alert_p50_ms": float(np.median(lat_ms)),
            "alert_p99_ms": float(np.percentile(lat_ms, 99)), "alert_max_ms": float(np.max(lat_ms)),
            "steady_alerts_timed": int(np.count_nonzero(~np.isnan(steady))),
            "steady_alert_p50_ms": float(np.median(steady)), "steady_alert_p99_ms": float(np.percentile(steady, 99))}


def _committed_cards(database: str, channels: set[str]) -> list[tuple[str, int | None]]:
    """Every card the servers committed for the watched stores: (channel, stream id; None if never relayed)."""
    with psycopg.connect(database) as db:
        rows = db.execute("SELECT channel, stream_id FROM outbox WHERE payload->>'type' = 'arrival'").fetchall()
    return [(channel, stream_id) for channel, stream_id in rows if channel in channels]


def count_cards(committed: list[tuple[str, int | None]], shown: list[tuple[str, int]],
                per_visit: Counter[tuple[str, int]]) -> dict[str, int]:
    """Lost: committed and never shown; duplicated: a message shown twice, or a visit with two cards."""
    shown_once = set(shown)
    return {"cards_committed": len(committed), "cards_shown": len(shown),
            "cards_lost": sum(1 for card in committed if card not in shown_once),
            "cards_duplicated": len(shown) - len(shown_once) + sum(n - 1 for n in per_visit.values() if n > 1)}


def run_push(config: PushBenchConfig, folder: Path, say: Any = print) -> dict[str, Any]:
    prefix = f"lbsbench{os.getpid()}"
    try:
        with scratch(config.database_url, "lbs_bench_push") as database:
            result = _run_on(database, prefix, config, folder, say)
    finally:
        _forget_prefix(config.redis_url, prefix)
    return {"benchmark": "push", "machine": machine(), "params": {k: v for k, v in vars(config).items()
                                                                    if "url" not in k and k != "shared_data"},
            **result}


def _run_on(database: str, prefix: str, config: PushBenchConfig, folder: Path, say: Any) -> dict[str, Any]:
    from lbs_bench.ports import free_port

    env = {"LBS_DATABASE_URL": database, "LBS_REDIS_URL": config.redis_url, "LBS_FENCE_DWELL_S": "0",
           "LBS_RATE_LIMITS": "off", "LBS_REDIS_PREFIX": prefix, "LBS_STAFF_ALERTS": config.staff_alerts}
    if config.arrival_heavy:  # an entry is an arrival: today's fence entries, as the issue defines the variant
        env |= {"LBS_ARRIVE_RADIUS_M": "1000", "LBS_FENCE_MAX_ACCURACY_M": "0", "LBS_FENCE_MAX_SPEED_MPS": "0"}
    subprocess.run([sys.executable, "-m", "lbs_service.cli", "db", "upgrade"], env={**os.environ, **env}, check=True,
                   capture_output=True)
    stores_csv, crs = _store_file(config, folder)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "lbs_service.cli", "import", "stores", str(stores_csv), "--crs", crs,
                    "--merchant", "bench"], env={**os.environ, **env}, check=True, capture_output=True)
    say(f"imported {config.fences:,} fences in {time.perf_counter() - started:.1f} s")
    with psycopg.connect(database) as db:
        # Arrival-heavy: stores with no other within 1.5 km, so an entry is one store's, as the variant says.
        alone = ("AND NOT EXISTS (SELECT 1 FROM stores o WHERE o.id <> s.id AND ST_DWithin(o.geog, s.geog, 1500))"
                 if config.arrival_heavy else "")
        near = db.execute(
            "SELECT id, ST_Y(geog::geometry), ST_X(geog::geometry) FROM stores s WHERE TRUE " + alone + " ORDER BY "
            "ST_Distance(geog, ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography) LIMIT %s",
            (BEIJING[1], BEIJING[0], config.consoles)).fetchall()
    consoles = [(row[0], _token("staff", f"staff-{row[0]}", row[0])) for row in near]
    if config.arrival_heavy:
        walks = _arrival_walks(config, np.array([(row[1], row[2]) for row in near]),
                               _away_points(database, 3 * config.users))
    else:
        walks = _walks(config)
    user_tokens = [_token("user", f"bench-user-{n}") for n in range(config.users)]
    ports = [free_port(), free_port()]
    received = Received()
    with _servers(env, ports) as procs:
        say(f"2 servers up; {config.users} users x {config.fixes_per_user} fixes, {len(consoles)} consoles"
            + (", every fourth fix an arrival" if config.arrival_heavy else ""))
        channels = {store_channel(store) for store, _ in consoles}
        result = asyncio.run(_run_load([f"127.0.0.1:{p}" for p in ports], walks, user_tokens, consoles, config.rate,
                                       received, lambda: _committed_cards(database, channels),
                                       [proc.pid for proc in procs]))
        committed = _committed_cards(database, channels)
    return result | count_cards(committed, received.cards, received.visits)


def _forget_prefix(redis_url: str, prefix: str) -> None:
    """The streams, counters and checkpoints the run's servers wrote under its own prefix."""
    import redis

    client = redis.Redis.from_url(redis_url)
    for batch in _batched(client.scan_iter(f"{prefix}:*", count=1000), 1000):
        client.delete(*batch)
    client.close()


def _batched(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
