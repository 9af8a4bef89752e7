"""Which column holds what: given by the operator, or recognised from common names."""

from dataclasses import dataclass

_CANDIDATES: dict[str, tuple[str, ...]] = {
    "id": ("id", "source_id", "store_id", "storeid", "code", "poi_id", "uid"),
    "lat": ("lat", "latitude", "lat_wgs84", "lat_gcj02", "lat_bd09", "y", "wgs_lat", "gcj_lat"),
    "lng": (
        "lng",
        "lon",
        "long",
        "longitude",
        "lng_wgs84",
        "lon_wgs84",
        "lng_gcj02",
        "lon_gcj02",
        "lng_bd09",
        "lon_bd09",
        "x",
        "wgs_lng",
        "gcj_lng",
    ),
    "name": ("name", "store_name", "title", "poi_name"),
    "category": ("category", "type", "kind", "poi_type"),
    "address": ("address", "addr", "street_address", "full_address", "street_line3", "street_line1"),
    "phone": ("phone", "tel", "telephone", "phone_number"),
    "opens": ("opens", "open_time", "open_time_on_scrape_day", "opening_time"),
    "closes": ("closes", "close_time", "close_time_on_scrape_day", "closing_time"),
    "timezone": ("timezone", "tz", "time_zone"),
}


@dataclass(frozen=True)
class ColumnMap:
    id: str | None
    lat: str | None
    lng: str | None
    name: str | None
    category: str | None
    address: str | None
    phone: str | None
    opens: str | None
    closes: str | None
    timezone: str | None

    def used(self) -> set[str]:
        return {c for c in vars(self).values() if c}


def resolve_columns(header: list[str], given: dict[str, str | None]) -> ColumnMap:
    """Operator-given names win; the rest are matched case-insensitively against common names."""
    lower = {h.lower(): h for h in header}
    chosen: dict[str, str | None] = {}
    for role, candidates in _CANDIDATES.items():
        explicit = given.get(role)
        if explicit:
            if explicit not in header:
                raise ValueError(f"--{role}-col {explicit!r} is not a column; columns are: {', '.join(header)}")
            chosen[role] = explicit
        else:
            chosen[role] = next((lower[c] for c in candidates if c in lower), None)
    return ColumnMap(**chosen)
