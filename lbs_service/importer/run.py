"""The import as a whole: read, normalise, refuse duplicates, upsert in chunks, write rejects."""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lbs_service.csv_export import SafeWriter
from lbs_service.importer.columns import resolve_columns
from lbs_service.importer.normalize import ImportOptions, Rejected, normalize
from lbs_service.importer.sources import read_source
from lbs_service.storage.stores import StoreRepository

_CHUNK = 2000


@dataclass
class ImportSummary:
    read: int = 0
    inserted: int = 0
    updated: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    rejects_path: Path | None = None


def rejects_path_for(path: Path) -> Path:
    return path.with_name(path.name + ".rejects.csv")


def import_stores(
    path: Path,
    repository: StoreRepository,
    merchant: str,
    options: ImportOptions,
    given_columns: dict[str, str | None],
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> ImportSummary:
    header, rows = read_source(path)
    columns = resolve_columns(header, given_columns)
    geojson = path.suffix.lower() in (".geojson", ".json")
    needed = ("id", "name") if geojson else ("id", "lat", "lng", "name")
    missing = [role for role in needed if getattr(columns, role) is None]
    if missing:
        raise ValueError(f"cannot find the {', '.join(missing)} column(s); name them with --{missing[0]}-col")
    summary = ImportSummary(read=len(rows))
    accepted: list[dict[str, Any]] = []
    first_line: dict[str, int] = {}
    for row in rows:
        result = normalize(row, columns, options)
        if isinstance(result, Rejected):
            summary.rejected.append(result)
        elif result["source_id"] in first_line:
            reason = f"duplicate id (first on line {first_line[result['source_id']]})"
            summary.rejected.append(Rejected(row.line, result["source_id"], reason, row.fields))
        else:
            first_line[result["source_id"]] = row.line
            accepted.append(result)
    total = len(accepted)
    for begin in range(0, total, _CHUNK):
        inserted, updated = repository.upsert_many(merchant, accepted[begin : begin + _CHUNK])
        summary.inserted += inserted
        summary.updated += updated
        progress(min(begin + _CHUNK, total), total)
    summary.rejects_path = _write_rejects(path, header, summary.rejected)
    return summary


def _write_rejects(path: Path, header: list[str], rejected: list[Rejected]) -> Path | None:
    target = rejects_path_for(path)
    if not rejected:
        target.unlink(missing_ok=True)  # a stale file from an earlier run would mislead
        return None
    with target.open("w", encoding="utf-8", newline="") as handle:
        writer = SafeWriter(handle)  # a reject echoes the file's cells: never as a formula
        writer.writerow(["line", "source_id", "reason", *header])
        for r in sorted(rejected, key=lambda r: r.line):
            writer.writerow([r.line, r.source_id, r.reason, *(r.fields.get(h, "") for h in header)])
    return target
