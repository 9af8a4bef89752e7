"""`lbs bench ws`: how many idle user websockets one server process holds, and at what memory.

Starts one `lbs serve` (embedded defaults) with a raised open-file limit, opens N idle user
sockets from this process, and reads the server's resident memory from /proc before and after.
"""

import asyncio
import contextlib
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from lbs_bench.ports import free_port, stop
from lbs_bench.timing import machine


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _raise_file_limit(wanted: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, target), max(hard, target)))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def _open(host: str, tokens: list[str], batch: int = 200) -> list[ClientConnection]:
    sockets: list[ClientConnection] = []
    for begin in range(0, len(tokens), batch):
        sockets += await asyncio.gather(*(connect(f"ws://{host}/v1/ws/user?token={t}", ping_interval=None,
                                                  open_timeout=60) for t in tokens[begin : begin + batch]))
    return sockets


def run_ws(connections: int, folder: Path, say: Any = print) -> dict[str, Any]:
    from lbs_service.auth import Principal, mint_token
    from lbs_service.settings import Settings

    limit = _raise_file_limit(connections * 2 + 1000)  # children inherit it: the server needs one fd a socket
    port = free_port()
    env = {**os.environ, "LBS_SQLITE_PATH": str(folder / "ws.sqlite3"), "LBS_DATABASE_URL": "", "LBS_REDIS_URL": ""}
    subprocess.run([sys.executable, "-m", "lbs_service.cli", "db", "upgrade"], env=env, check=True,
                   capture_output=True)
    server = subprocess.Popen([sys.executable, "-m", "lbs_service.cli", "serve", "--port", str(port), "--log-level",
                               "warning"], env=env)
    try:
        for _ in range(300):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            time.sleep(0.2)
        baseline = _rss_mb(server.pid)
        settings = Settings()
        tokens = [mint_token(settings, Principal("user", f"idle-{n}")) for n in range(connections)]
        say(f"server up (RSS {baseline:.0f} MB, open-file limit {limit}); opening {connections:,} sockets")
        started = time.perf_counter()

        async def hold() -> tuple[int, float]:
            sockets = await _open(f"127.0.0.1:{port}", tokens)
            opened = time.perf_counter() - started
            await asyncio.sleep(3.0)  # let the server settle
            for ws in sockets:
                await ws.close()
            return len(sockets), opened

        held, opened_s = asyncio.run(_measure(hold, server.pid))
        loaded = _LAST_RSS[0]
    finally:
        stop(server)
    per_socket_kb = (loaded - baseline) * 1024 / max(held, 1)
    return {"benchmark": "ws", "machine": machine(), "connections": held, "open_seconds": opened_s,
            "server_rss_mb_idle": baseline, "server_rss_mb_loaded": loaded, "kb_per_connection": per_socket_kb}


_LAST_RSS = [float("nan")]


async def _measure(hold: Any, pid: int) -> tuple[int, float]:
    """Run `hold` and sample the server's RSS while every socket is open."""
    task = asyncio.create_task(hold())
    peak = 0.0
    while not task.done():
        peak = max(peak, _rss_mb(pid))
        await asyncio.sleep(0.5)
    _LAST_RSS[0] = peak
    result: tuple[int, float] = task.result()
    return result
