"""Real `lbs serve` processes for multi-worker tests: started and stopped by the test, by their pid."""

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx

from tests.live import free_port


@contextlib.contextmanager
def lbs_servers(env: dict[str, str], count: int = 2) -> Iterator[list[str]]:
    ports = [free_port() for _ in range(count)]
    full_env = {**os.environ, **env}
    procs = [subprocess.Popen([sys.executable, "-m", "lbs_service.cli", "serve", "--port", str(p), "--log-level",
                               "warning"], env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
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
