"""Store registry writes and reads. Every write also appends to store_changes in the same
transaction, which is how other workers learn about it (see catalog.py)."""

from collections.abc import Iterator, Sequence
from typing import Any

from h3.api import basic_int as h3i
from sqlalchemy import Table, Text, cast, delete, func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lbs_service.errors import Conflict, NotFound
from lbs_service.storage.bulk_upsert import copy_upsert
from lbs_service.storage.db import Database, insert_for
from lbs_service.storage.models import District, Merchant, Store, StoreChange
from lbs_service.storage.watch import Watch

H3_STORAGE_RESOLUTION = 9
_UPSERT_CHUNK = 2000
UPDATABLE = ("name", "category", "address", "phone", "hours", "timezone", "status", "attributes", "lat", "lng")


def cast_table(table: object) -> Table:
    assert isinstance(table, Table)
    return table


def h3_cell(lat: float, lng: float) -> int:
    return int(h3i.latlng_to_cell(lat, lng, H3_STORAGE_RESOLUTION))


_NEWEST_CHANGE = select(func.coalesce(func.max(StoreChange.seq), 0))


class StoreRepository:
    """Reads and writes of the store registry; every write also records a change for the workers to follow."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _serialise_changes(self, session: Session) -> None:
        """Make commit order equal change-sequence order, so a reader never skips a late commit.

        Store writes are rare (operators, imports), so serialising them costs nothing that matters;
        SQLite serialises writers anyway.
        """
        if self.db.is_postgres:
            session.execute(text("LOCK TABLE store_changes IN SHARE ROW EXCLUSIVE MODE"))

    # ---- merchants ------------------------------------------------------------------
    def merchant_id(self, session: Session, name: str) -> int:
        """The id of the merchant with this name, created on first use."""
        found = session.scalar(select(Merchant.id).where(Merchant.name == name))
        if found is not None:
            return found
        merchant = Merchant(name=name)
        session.add(merchant)
        session.flush()
        return merchant.id

    # ---- single stores --------------------------------------------------------------
    def get(self, store_id: int) -> Store:
        with self.db.session() as session:
            store = session.get(Store, store_id)
            if store is None:
                raise NotFound(f"no store with id {store_id}")
            return store

    def exists(self, store_id: int) -> bool:
        """Whether a store with this id is in the registry (open or closed)."""
        with self.db.session() as session:
            return session.scalar(select(Store.id).where(Store.id == store_id)) is not None

    def create(self, merchant: str, fields: dict[str, Any]) -> Store:
        try:
            with self.db.transaction() as session:
                self._serialise_changes(session)
                store = Store(merchant_id=self.merchant_id(session, merchant), **fields)
                store.h3_r9 = h3_cell(store.lat, store.lng)
                session.add(store)
                session.flush()
                session.add(StoreChange(store_id=store.id))
                return store
        except IntegrityError:
            raise Conflict(
                f"merchant {merchant!r} already has a store with source_id {fields['source_id']!r}"
            ) from None

    def update(self, store_id: int, changes: dict[str, Any]) -> Store:
        with self.db.transaction() as session:
            self._serialise_changes(session)
            store = session.get(Store, store_id, with_for_update=True)
            if store is None:
                raise NotFound(f"no store with id {store_id}")
            for key, value in changes.items():
                setattr(store, key, value)
            store.h3_r9 = h3_cell(store.lat, store.lng)
            session.add(StoreChange(store_id=store.id))
            return store

    def delete(self, store_id: int) -> None:
        with self.db.transaction() as session:
            self._serialise_changes(session)
            deleted = session.execute(delete(Store).where(Store.id == store_id)).rowcount  # type: ignore[attr-defined]
            if not deleted:
                raise NotFound(f"no store with id {store_id}")
            session.add(StoreChange(store_id=store_id))

    # ---- bulk -----------------------------------------------------------------------
    def upsert_many(self, merchant: str, rows: Sequence[dict[str, Any]]) -> tuple[int, int]:
        """Insert or update by (merchant, source_id); returns (inserted, updated)."""
        inserted = updated = 0
        with self.db.transaction() as session:
            self._serialise_changes(session)
            merchant_id = self.merchant_id(session, merchant)
            for begin in range(0, len(rows), _UPSERT_CHUNK):
                chunk = [
                    {**row, "merchant_id": merchant_id, "h3_r9": h3_cell(row["lat"], row["lng"])}
                    for row in rows[begin : begin + _UPSERT_CHUNK]
                ]
                if self.db.is_postgres:
                    written = copy_upsert(session, merchant_id, chunk)
                else:
                    written = self._upsert_chunk(session, chunk)
                self._record_changes(session, [i for i, _ in written])
                fresh = sum(is_new for _, is_new in written)
                inserted += fresh
                updated += len(chunk) - fresh
        return inserted, updated

    def _record_changes(self, session: Session, store_ids: list[int]) -> None:
        if self.db.is_postgres:  # one statement, not one row each
            session.execute(text("INSERT INTO store_changes (store_id) SELECT unnest(CAST(:ids AS bigint[]))"),
                            {"ids": store_ids})
        else:
            session.execute(insert(StoreChange), [{"store_id": i} for i in store_ids])

    def _upsert_chunk(self, session: Session, chunk: list[dict[str, Any]]) -> list[tuple[int, bool]]:
        """The portable path (SQLite): which rows are new, then one cached single-row upsert as an executemany."""
        known = select(Store.source_id).where(
            Store.merchant_id == chunk[0]["merchant_id"], Store.source_id.in_([row["source_id"] for row in chunk])
        )
        existing = set(session.scalars(known))
        table = cast_table(Store.__table__)
        stmt = insert_for(self.db.is_postgres)(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=["merchant_id", "source_id"],
            set_={key: stmt.excluded[key] for key in (*UPDATABLE, "h3_r9")} | {"updated_at": func.now()},
        )
        result = session.connection().execute(stmt.returning(table.c.id, sort_by_parameter_order=True), chunk)
        return [(i, row["source_id"] not in existing) for i, row in zip(result.scalars(), chunk, strict=True)]

    # ---- change feed ----------------------------------------------------------------
    def latest_change(self) -> int:
        with self.db.session() as session:
            return session.scalar(_NEWEST_CHANGE) or 0

    def watch(self) -> Watch:
        """A held connection for a follower's poll (newest_change): one statement a poll."""
        return Watch(self.db.engine)

    @staticmethod
    def newest_change(watch: Watch) -> int:
        return int(watch.scalar(_NEWEST_CHANGE) or 0)

    def changes_after(self, seq: int, limit: int) -> list[tuple[int, int]]:
        with self.db.session() as session:
            query = select(StoreChange.seq, StoreChange.store_id).where(StoreChange.seq > seq)
            return [(s, i) for s, i in session.execute(query.order_by(StoreChange.seq).limit(limit))]

    def prune_changes(self, keep_after_seq: int) -> int:
        with self.db.transaction() as session:
            result = session.execute(delete(StoreChange).where(StoreChange.seq <= keep_after_seq))
            return int(result.rowcount)  # type: ignore[attr-defined]

    def open_store_rows(self, ids: Sequence[int] | None = None) -> Iterator[Any]:
        """Open stores as plain rows (no ORM objects), streamed: a worker loads a million of them at start."""
        columns = (Store.id, Store.merchant_id, Store.source_id, Store.name, Store.category, Store.address,
                   Store.phone, cast(Store.hours, Text).label("hours_json"), Store.timezone, Store.lat, Store.lng,
                   Store.rating_count, Store.rating_sum, Store.attributes["utilities"].as_string().label("utilities"))
        query = select(*columns).where(Store.status == "open")
        if ids is not None:
            query = query.where(Store.id.in_(ids))
        with self.db.engine.connect() as connection:
            yield from connection.execution_options(stream_results=True, yield_per=50_000).execute(query)

    # ---- districts ------------------------------------------------------------------
    def districts_version(self) -> tuple[int, str]:
        with self.db.session() as session:
            count, latest = session.execute(select(func.count(), func.max(District.updated_at))).one()
            return int(count), str(latest)

    def district_geometries(self) -> list[tuple[str, dict[str, Any]]]:
        with self.db.session() as session:
            return [(code, geometry) for code, geometry in session.execute(select(District.code, District.geometry))]

