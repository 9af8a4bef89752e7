"""Real `lbs serve` processes for multi-worker tests: started and stopped by the test, by their pid."""

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx

from tests.live import free_port


def start_server(env: dict[str, str], log_level: str = "warning",
                 log_file: IO[bytes] | None = None) -> tuple[str, subprocess.Popen[bytes]]:
    """One `lbs serve` on a free port, ready when this returns: (host:port, its process)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "lbs_service.cli", "serve", "--port", str(port), "--log-level",
                             log_level], env={**os.environ, **env}, stdout=log_file or subprocess.DEVNULL,
                            stderr=log_file or subprocess.PIPE)
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return f"127.0.0.1:{port}", proc
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("server did not become ready")
        time.sleep(0.2)


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@contextlib.contextmanager
def lbs_servers(env: dict[str, str], count: int = 2, log_level: str = "warning",
                log_path: Path | None = None) -> Iterator[list[str]]:
    """`count` servers; with log_path, everything they log (stdout and stderr) goes to that file."""
    log_file = log_path.open("ab") if log_path else None
    procs: list[subprocess.Popen[bytes]] = []
    hosts: list[str] = []
    try:
        for _ in range(count):
            host, proc = start_server(env, log_level, log_file)
            hosts.append(host)
            procs.append(proc)
        yield hosts
    finally:
        for proc in procs:
            stop_server(proc)
        if log_file:
            log_file.close()
