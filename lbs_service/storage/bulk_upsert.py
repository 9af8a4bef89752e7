"""Bulk store upsert on PostgreSQL: COPY into a temporary table, then one INSERT ... ON CONFLICT.

Multi-row INSERTs with thousands of parameters spend most of their time in the client, parsing
and binding the statement; COPY sends the rows as one stream and the server does the rest.
"""

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

_COLUMNS = ("source_id", "name", "category", "address", "phone", "hours", "timezone", "status", "attributes", "lat",
            "lng", "h3_r9")
_STAGE = """CREATE TEMPORARY TABLE IF NOT EXISTS store_import_stage (
    source_id text, name text, category text, address text, phone text, hours text, timezone text, status text,
    attributes text, lat float8, lng float8, h3_r9 bigint) ON COMMIT DELETE ROWS"""
_UPSERT = f"""
INSERT INTO stores (merchant_id, {", ".join(_COLUMNS)})
SELECT %(merchant)s, source_id, name, category, address, phone, hours::json, timezone, status, attributes::json,
       lat, lng, h3_r9
FROM store_import_stage
ON CONFLICT (merchant_id, source_id) DO UPDATE SET
    {", ".join(f"{c} = excluded.{c}" for c in _COLUMNS if c != "source_id")}, updated_at = now()
RETURNING id, (xmax = 0) AS inserted"""


def copy_upsert(session: Session, merchant_id: int, rows: Sequence[dict[str, Any]]) -> list[tuple[int, bool]]:
    """Upsert rows (with h3_r9 set) in the session's transaction: (store id, newly inserted) per row."""
    driver = session.connection().connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor:
        cursor.execute(_STAGE)
        cursor.execute("TRUNCATE store_import_stage")  # rows of an earlier call in this transaction
        with cursor.copy(f"COPY store_import_stage ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([
                    json.dumps(row[c]) if c in ("hours", "attributes") and row[c] is not None else row[c]
                    for c in _COLUMNS
                ])
        cursor.execute(_UPSERT, {"merchant": merchant_id})
        return [(int(i), bool(fresh)) for i, fresh in cursor.fetchall()]
