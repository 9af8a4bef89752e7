"""No test reads today's date or the wall clock to build an instant: a test that passed yesterday
must pass next year. Tests build instants from tests/clock.py (T0) and measure durations with
time.monotonic or perf_counter. This walks every test module and fails on any such call."""

import ast
from pathlib import Path

FORBIDDEN = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"), ("time", "time")}
TESTS = Path(__file__).parent


def wall_clock_calls(source: str) -> list[int]:
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else None
            if (name, node.func.attr) in FORBIDDEN:
                lines.append(node.lineno)
    return lines


def test_the_guard_finds_wall_clock_reads():
    # The samples are assembled, so that this file holds no wall-clock read, not even as text.
    now, today = "datetime." + "now", "date." + "today"
    assert wall_clock_calls(f"from datetime import datetime\nx = {now}(UTC)\n") == [2]
    assert wall_clock_calls("import time\nt = time.time() + 5\n") == [2]
    assert wall_clock_calls(f"import datetime\nd = datetime.{today}()\n") == [2]
    assert wall_clock_calls("t = time.monotonic()\n") == []


def test_no_test_reads_the_wall_clock():
    offenders = {str(path.relative_to(TESTS)): lines for path in sorted(TESTS.rglob("*.py"))
                 if (lines := wall_clock_calls(path.read_text(encoding="utf-8")))}
    assert offenders == {}, f"tests reading today's date or the wall clock (file: lines): {offenders}"
