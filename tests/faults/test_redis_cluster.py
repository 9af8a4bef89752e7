"""The push path on a three-node Redis Cluster of the test's own (Debian's redis-server in cluster
mode, append-only files so a restarted node keeps its streams): store channels land on every node
(the channel is the hash tag of its keys), every committed alert reaches its console exactly once
although one node is restarted mid-run, and a console replaying from the start gets its whole
channel in order."""

import asyncio
import contextlib
import json
import shutil
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import redis as sync_redis

from lbs_service.settings import Settings
from lbs_service.storage.migrate import upgrade
from tests.conftest import need_installed
from tests.faults.report import FaultRun, record
from tests.faults.scenario import console, finish, row_of_stores, shown_once, start_walkers
from tests.faults.servers import _wait_for_port
from tests.live import live_server, token, ws_connect


def _cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too; both under 65536."""
    import random
    import socket

    for _ in range(200):
        port = random.randint(20_000, 45_000)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10_000))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port pair for a cluster node")


class Cluster:
    def __init__(self, folder: Path, nodes: int = 3) -> None:
        binary = shutil.which("redis-server")
        need_installed(binary, "redis-server")
        assert binary is not None
        self.binary = binary
        self.folder = folder
        self.ports = [_cluster_port() for _ in range(nodes)]
        self.processes: dict[int, subprocess.Popen[bytes]] = {}

    def start_node(self, port: int) -> None:
        node_dir = self.folder / str(port)
        node_dir.mkdir(exist_ok=True)
        self.processes[port] = subprocess.Popen(
            [self.binary, "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
             "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000", "--dir", str(node_dir),
             "--appendonly", "yes", "--appendfsync", "always", "--save", ""], stdout=subprocess.DEVNULL)
        _wait_for_port(port, self.processes[port])

    def stop_node(self, port: int) -> None:
        process = self.processes.pop(port)
        process.terminate()
        process.wait(10)

    def create(self) -> None:
        for port in self.ports:
            self.start_node(port)
        subprocess.run(["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in self.ports),
                        "--cluster-replicas", "0", "--cluster-yes"], check=True, capture_output=True, timeout=60)
        self.wait_ok()

    def wait_ok(self, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            states = []
            for port in self.ports:
                with contextlib.suppress(sync_redis.RedisError):
                    info = sync_redis.Redis(port=port).execute_command("CLUSTER", "INFO").decode()
                    states.append("cluster_state:ok" in info)
            if len(states) == len(self.ports) and all(states):
                return
            time.sleep(0.2)
        raise RuntimeError("the cluster did not come up")

    def keys_by_node(self, pattern: str) -> dict[int, int]:
        return {port: len(list(sync_redis.Redis(port=port).scan_iter(pattern))) for port in self.ports}

    def close(self) -> None:
        for port in list(self.processes):
            self.stop_node(port)


def test_push_on_a_three_node_cluster_survives_a_node_restart():
    folder = Path(tempfile.mkdtemp(prefix="lbs-test-cluster-"))
    cluster = Cluster(folder)
    try:
        cluster.create()
        _run_on(cluster, folder)
    finally:
        cluster.close()
        shutil.rmtree(folder, ignore_errors=True)


def _run_on(cluster: Cluster, folder: Path) -> None:
    from threading import Event

    prefix = f"cl{uuid.uuid4().hex[:6]}"
    settings = Settings(database_url="", sqlite_path=folder / "lbs.sqlite3",
                        redis_url=f"redis://127.0.0.1:{cluster.ports[0]}/0", redis_cluster=True, redis_prefix=prefix,
                        rate_limits=False, staff_alerts="all", change_feed_poll_s=0.05)
    upgrade(settings)
    store_ids = row_of_stores(settings)
    seen: list[tuple] = []
    statuses: Counter = Counter()
    retry_after: list[str] = []
    restarted = cluster.ports[1]  # not the node the service was pointed at
    with live_server(settings) as base:

        async def run() -> list[int]:
            stop_consoles, stop_walkers = asyncio.Event(), Event()
            consoles = [asyncio.create_task(console(lambda: base, settings, s, seen, stop_consoles))
                        for s in store_ids]
            await asyncio.sleep(1.0)
            walkers = start_walkers(base, settings, 8, statuses, retry_after, stop_walkers)
            await asyncio.sleep(3.0)
            cluster.stop_node(restarted)
            await asyncio.sleep(3.0)
            cluster.start_node(restarted)
            await asyncio.to_thread(cluster.wait_ok)
            await asyncio.sleep(3.0)
            await finish(walkers, stop_walkers, settings, seen, stop_consoles)
            await asyncio.gather(*consoles)
            return await _replay_ids(base, settings, store_ids[0])

        replayed_ids = asyncio.run(run())
    committed, shown = shown_once(settings, seen)
    streams = cluster.keys_by_node(f"{prefix}:{{store:*}}:stream")
    record(FaultRun("Redis Cluster node restarted during fixes", sum(statuses.values()),
                    sum(n for code, n in statuses.items() if code >= 500 and code != 503), statuses[503],
                    len(committed), len(committed - set(shown)), sum(n - 1 for n in shown.values())))
    assert all(count > 0 for count in streams.values()), streams  # the channels are spread over every node
    assert all(code < 500 or code == 503 for code in statuses), statuses
    assert len(committed) > 20
    assert set(shown) == committed and max(shown.values()) == 1
    mine = sorted(s[3] for s in seen if s[0] == store_ids[0])
    assert replayed_ids == sorted(set(replayed_ids)) and set(mine) <= set(replayed_ids)  # in order, each once


async def _replay_ids(host: str, settings: Settings, store_id: int) -> list[int]:
    """A console reconnecting with last_id=0: the channel's whole history, ids in order."""
    ids = []
    staff = token(settings, "staff", f"staff-{store_id}", store_id)
    async with ws_connect(host, f"/v1/ws/stores/{store_id}?token={staff}&last_id=0") as ws:
        with contextlib.suppress(TimeoutError):
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), 1.0))
                if "id" in message:
                    ids.append(message["id"])
    return ids
