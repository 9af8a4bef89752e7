"""Reading store files: CSV (any column names, BOM, quoted newlines and tabs) and GeoJSON."""

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

csv.field_size_limit(10 * 1024 * 1024)


@dataclass(frozen=True)
class SourceRow:
    line: int  # where the record starts in the file (1-based; the CSV header is line 1)
    fields: dict[str, Any]
    lat: Any = None  # GeoJSON geometry, when the file carries one
    lng: Any = None
    geometry_error: str | None = None


def read_source(path: Path) -> tuple[list[str], list[SourceRow]]:
    """Column names and rows of a CSV or GeoJSON file."""
    if path.suffix.lower() in (".geojson", ".json"):
        return _read_geojson(path)
    return _read_csv(path)


def _read_csv(path: Path) -> tuple[list[str], list[SourceRow]]:
    rows: list[SourceRow] = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = [h.strip() for h in next(reader, [])]
        line = reader.line_num + 1
        for values in reader:
            if any(v.strip() for v in values):
                padded = values + [""] * (len(header) - len(values))
                fields: dict[str, Any] = dict(zip(header, padded, strict=False))
                if len(values) > len(header):
                    fields["__extra__"] = values[len(header) :]
                rows.append(SourceRow(line, fields))
            line = reader.line_num + 1
    return header, rows


def _read_geojson(path: Path) -> tuple[list[str], list[SourceRow]]:
    document = json.loads(path.read_text(encoding="utf-8-sig"))
    features = document.get("features", []) if isinstance(document, dict) else []
    rows: list[SourceRow] = []
    names: dict[str, None] = {"id": None}
    for number, feature in enumerate(_features(features), start=1):
        props = dict(feature.get("properties") or {})
        if "id" not in props and feature.get("id") is not None:
            props["id"] = feature["id"]
        names.update(dict.fromkeys(props))
        geometry = feature.get("geometry") or {}
        coords = geometry.get("coordinates") if isinstance(geometry, dict) else None
        if geometry.get("type") != "Point" or not isinstance(coords, list) or len(coords) < 2:
            rows.append(SourceRow(number, props, geometry_error="geometry is not a Point [lng, lat]"))
        else:
            rows.append(SourceRow(number, props, lat=coords[1], lng=coords[0]))
    return list(names), rows


def _features(features: Any) -> Iterator[dict[str, Any]]:
    for feature in features if isinstance(features, list) else []:
        yield feature if isinstance(feature, dict) else {}
