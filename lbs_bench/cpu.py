"""CPU time of processes from /proc, for benchmarks that report what a message or a fix costs."""

import os
from collections.abc import Iterable
from pathlib import Path

TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: Iterable[int]) -> float:
    """User plus system time these processes (all their threads) have used so far. A process that is
    gone raises ProcessLookupError: counted as nothing, it would turn a difference negative."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            raise ProcessLookupError(f"process {pid} is gone: its CPU time cannot be read") from None
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / TICKS_PER_S
