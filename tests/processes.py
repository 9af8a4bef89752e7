"""Real `lbs serve` processes for multi-worker tests: started and stopped by the test, by their pid."""

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.live import free_port


@contextlib.contextmanager
def lbs_servers(env: dict[str, str], count: int = 2, log_level: str = "warning",
                log_path: Path | None = None) -> Iterator[list[str]]:
    """`count` servers; with log_path, everything they log (stdout and stderr) goes to that file."""
    ports = [free_port() for _ in range(count)]
    full_env = {**os.environ, **env}
    log_file = log_path.open("ab") if log_path else None
    procs = [subprocess.Popen([sys.executable, "-m", "lbs_service.cli", "serve", "--port", str(p), "--log-level",
                               log_level], env=full_env, stdout=log_file or subprocess.DEVNULL,
                              stderr=log_file or subprocess.PIPE)
             for p in ports]
    try:
        for port, proc in zip(ports, procs, strict=True):
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError("server did not become ready")
                time.sleep(0.2)
        yield [f"127.0.0.1:{p}" for p in ports]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        if log_file:
            log_file.close()
