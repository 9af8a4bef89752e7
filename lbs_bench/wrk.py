"""Closed-loop load from wrk (Debian's `wrk` package), the compiled client people measure HTTP
servers with: on two cores, the Python load generator spends a core of its own and narrows every
gap it measures. wrk cycles through the given paths (a Lua script reads them from a file), one
thread, `concurrency` keep-alive connections, for a fixed time.
"""

import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from lbs_bench.http_load import LoadResult

_SCRIPT = """
local paths = {}
for line in io.lines(%(paths)s) do paths[#paths + 1] = line end
local headers = %(headers)s
local next_path = 0
request = function()
  next_path = next_path %% #paths + 1
  return wrk.format("GET", paths[next_path], headers)
end
"""
_SECONDS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}  # what wrk writes after a number


def wrk_path() -> str | None:
    return shutil.which("wrk")


class WrkLoad:
    """One set of paths and headers, written once; `run` loads a server with them for a while."""

    def __init__(self, folder: Path, paths: Sequence[str], headers: dict[str, str] | None = None) -> None:
        executable = wrk_path()
        if executable is None:
            raise RuntimeError("wrk is not installed (apt-get install wrk)")
        self.executable = executable
        listed, self.script = folder / "wrk_paths.txt", folder / "wrk_cycle.lua"
        listed.write_text("".join(f"{path}\n" for path in paths))
        table = ", ".join(f"[{_lua(k)}] = {_lua(v)}" for k, v in (headers or {}).items())
        self.script.write_text(_SCRIPT % {"paths": _lua(str(listed)), "headers": "{" + table + "}"})

    def run(self, host: str, port: int, concurrency: int, seconds: float) -> LoadResult:
        command = [self.executable, "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--latency",
                   "-s", str(self.script), f"http://{host}:{port}"]
        done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60)
        return parse_wrk(done.stdout)


def parse_wrk(output: str) -> LoadResult:
    """wrk's report (with --latency) as a LoadResult; errors are non-2xx answers and socket errors."""
    requests, duration, unit = _find(r"(\d+) requests in ([\d.]+)(\w+)", output, 3)
    elapsed = float(duration) * _SECONDS[unit]
    errors = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    errors += int(m[0]) if (m := re.findall(r"Non-2xx or 3xx responses: (\d+)", output)) else 0
    p50, p99 = (_latency_ms(*_find(rf"^\s+{p}%\s+([\d.]+)(\w+)", output, 2)) for p in ("50", "99"))
    worst = _latency_ms(*_find(r"^\s+Latency\s+\S+\s+\S+\s+([\d.]+)(\w+)", output, 2))
    return LoadResult(int(requests), errors, elapsed, int(requests) / elapsed, p50, p99, worst)


def _latency_ms(value: str, unit: str) -> float:
    return float(value) * _SECONDS[unit] * 1e3


def _find(pattern: str, text: str, groups: int = 1) -> tuple[str, ...]:
    match = re.search(pattern, text, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"wrk's report has no {pattern!r}:\n{text}")
    return match.groups()[:groups]


def _lua(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
