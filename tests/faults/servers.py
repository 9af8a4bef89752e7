"""Redis and PostgreSQL servers of a test's own, on spare loopback ports, started and stopped by
their process ids (the machine's shared servers are never touched)."""

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import need_installed
from tests.live import free_port


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout_s: float = 20) -> None:
    import socket

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


class OwnRedis:
    """A Redis of the test's own that keeps nothing on disk: killed and started again, it comes back empty."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        need_installed(binary, "redis-server")
        assert binary is not None
        self.binary, self.port = binary, free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen([self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                         "--appendonly", "no"], stdout=subprocess.DEVNULL)
        _wait_for_port(self.port, self.process)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@contextlib.contextmanager
def own_redis() -> Iterator[int]:
    server = OwnRedis()
    server.start()
    try:
        yield server.port
    finally:
        server.stop()


def _postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    need_installed(found, "PostgreSQL's server programs (initdb)")
    return found[-1].parent


class OwnPostgres:
    """A throwaway cluster in a temporary folder, run as the `postgres` system user when we are root
    (initdb refuses root), reachable with trust auth on 127.0.0.1:port."""

    def __init__(self) -> None:
        self.bin = _postgres_bin()
        # Its own folder, not pytest's (which only root may enter), removed by own_postgres.
        self.folder = Path(tempfile.mkdtemp(prefix="lbs-test-pg-"))
        self.data = self.folder / "pgdata"
        self.port = free_port()
        self.log = self.folder / "postgres.log"
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as:
            shutil.chown(self.folder, "postgres")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as, *args], check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def start(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-o",
                  f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")


@contextlib.contextmanager
def own_postgres() -> Iterator[OwnPostgres]:
    server = OwnPostgres()
    try:
        server.init()
        server.start()
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            server.stop("immediate")
        shutil.rmtree(server.folder, ignore_errors=True)
