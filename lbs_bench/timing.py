"""Sequential latency measurement and the machine description that goes with every result."""

import contextlib
import gc
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass
class Measurement:
    qps: float
    p50_ms: float
    p99_ms: float


def measure(call: Callable[[float, float], object], points: Sequence[tuple[float, float]]) -> Measurement:
    """One sequential client: each call timed on its own; throughput over the whole loop."""
    latencies = np.empty(len(points))
    started = time.perf_counter()
    for i, (lat, lng) in enumerate(points):
        t0 = time.perf_counter()
        call(lat, lng)
        latencies[i] = time.perf_counter() - t0
    elapsed = time.perf_counter() - started
    p50, p99 = np.median(latencies) * 1e3, np.percentile(latencies, 99) * 1e3
    return Measurement(len(points) / elapsed, float(p50), float(p99))


@dataclass
class EngineResult:
    engine: str
    stores: int
    qps: float
    p50_ms: float
    p99_ms: float
    exact: bool
    mismatched_queries: int = 0
    checked_queries: int = 0
    runs: list[dict[str, float]] = field(default_factory=list)
    note: str = ""

    @classmethod
    def from_runs(cls, engine: str, stores: int, runs: list[Measurement], exact: bool, mismatched: int,
                  checked: int, note: str = "") -> "EngineResult":
        """Medians over several runs: one quiet or noisy run proves nothing."""
        return cls(engine, stores, statistics.median(r.qps for r in runs), statistics.median(r.p50_ms for r in runs),
                   statistics.median(r.p99_ms for r in runs), exact, mismatched, checked,
                   [asdict(r) for r in runs], note)


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), "")
    except OSError:
        pass
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(memory_gb, 1), "python": platform.python_version(),
            "platform": platform.platform(), "numpy": np.__version__}


@contextlib.contextmanager
def no_client_pauses() -> Iterator[None]:
    """A load generator's own garbage collection off while it times: a full collection over its
    thousands of request tasks stalled the HTTP client ~15 ms about 4.7 s into every paced run,
    against every server alike (seen in the slow requests' times), and those stalls were counted as
    the server's latency."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
