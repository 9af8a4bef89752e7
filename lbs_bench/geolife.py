"""GeoLife 1.3 trajectories (.plt): six header lines, then lat, lng, 0, altitude, days, date, time (UTC)."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True)
class TracePoint:
    """One line of a GeoLife trace (a recorded position, not yet a fix the service takes)."""

    lat: float
    lng: float
    ts: datetime


def read_plt(path: Path) -> list[TracePoint]:
    fixes = []
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle):
            if number < 6 or not line.strip():
                continue
            parts = line.strip().split(",")
            if len(parts) < 7:
                continue
            try:
                ts = datetime.fromisoformat(f"{parts[5]}T{parts[6]}").replace(tzinfo=UTC)
                fixes.append(TracePoint(float(parts[0]), float(parts[1]), ts))
            except ValueError:
                continue  # a damaged line in a real file is skipped, not fatal
    return fixes


def trajectories(root: Path) -> Iterator[tuple[str, Path]]:
    """(user, path) for every .plt under root/<user>/Trajectory/, in a stable order."""
    for path in sorted(root.glob("*/Trajectory/*.plt")):
        yield path.parent.parent.name, path
