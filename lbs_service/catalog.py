"""The worker's in-memory view of the store registry: the exact radius index plus the few
fields a nearby answer shows. It is loaded from the database at start and follows the
store_changes feed, so every worker converges within a poll interval of any write."""

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from geo_index import RadiusIndex
from geo_index.regions import RegionIndex
from lbs_service.records import RECORDS, StoreRecord, following
from lbs_service.storage.stores import StoreRepository

log = logging.getLogger(__name__)
_FEED_BATCH = 20_000
# Changes are kept this many sequence numbers behind the newest before being pruned.
_FEED_KEEP = 100_000


@dataclass(frozen=True)
class ChangeBatch:
    last_seq: int
    records: list[StoreRecord]  # stores to (re)index
    gone: list[int]  # stores deleted or closed for good
    reload: bool = False  # too far behind: rebuild from scratch


class StoreCatalog:
    """The worker's open stores: records, their radius index and the districts, following the change feed."""

    def __init__(self, repository: StoreRepository) -> None:
        self.repository = repository
        self.index = RadiusIndex()
        self.records: dict[int, StoreRecord] = {}
        self.seq = 0
        self.load_seconds = 0.0
        self._stopping = asyncio.Event()
        self.regions = RegionIndex()
        self._regions_version: tuple[int, str] | None = None
        self._district_cache: dict[tuple[int, float, float], str | None] = {}
        self._positions: tuple[np.ndarray, np.ndarray] | None = None
        self._categories: list[str] | None = None

    # ---- loading and following the feed (database work runs in threads) -------------
    def load(self) -> None:
        started = time.perf_counter()
        seq = self.repository.latest_change()  # read first: changes racing the load get replayed
        records = [RECORDS.from_values(row) for row in self.repository.open_store_rows()]
        self._install(records)
        self.load_regions()
        self.seq = seq
        self.load_seconds = time.perf_counter() - started
        log.info("store index loaded: %d stores in %.2f s", len(records), self.load_seconds)

    def _install(self, records: list[StoreRecord]) -> None:
        index = RadiusIndex.build(
            [r.id for r in records], [r.lat for r in records], [r.lng for r in records], [r.category for r in records]
        )
        self.index, self.records = index, {r.id: r for r in records}
        self._positions = self._categories = None

    def load_regions(self) -> bool:
        """(Re)load district polygons when they changed; True if they did."""
        version = self.repository.districts_version()
        if version == self._regions_version:
            return False
        self.regions = RegionIndex.from_geojson(self.repository.district_geometries())
        self._district_cache = {}
        self._regions_version = version
        return True

    def district_of(self, store: StoreRecord) -> str | None:
        """The district polygon the store stands in (by position, so a moved store is looked up again)."""
        key = (store.id, store.lat, store.lng)
        if key not in self._district_cache:
            if len(self._district_cache) > 200_000:
                self._district_cache.clear()
            self._district_cache[key] = self.regions.region_of(store.lat, store.lng)
        return self._district_cache[key]

    def fetch_changes(self) -> ChangeBatch | None:
        changes = self.repository.changes_after(self.seq, _FEED_BATCH)
        if not changes:
            return None
        last_seq = changes[-1][0]
        if len(changes) == _FEED_BATCH:
            return ChangeBatch(last_seq, [], [], reload=True)
        ids = sorted({store_id for _, store_id in changes})
        records = [RECORDS.from_values(row) for row in self.repository.open_store_rows(ids)]
        kept = {r.id for r in records}
        return ChangeBatch(last_seq, records, [i for i in ids if i not in kept])

    def apply(self, batch: ChangeBatch) -> None:
        """Runs on the event loop, between queries, so readers never see a half-applied batch."""
        if batch.reload:
            self.load()
            return
        self.index.apply(((r.id, r.lat, r.lng, r.category) for r in batch.records), batch.gone)
        for store_id in batch.gone:
            self.records.pop(store_id, None)
        self.records.update((r.id, r) for r in batch.records)
        self.seq = max(self.seq, batch.last_seq)
        self._positions = self._categories = None

    def snapshot(self) -> list[StoreRecord]:
        """Every open store now, as a list of its own: for readers in threads (the planner, the
        merchant list), whom a change applied on the event loop meanwhile must not break. Taken in one
        call, which no other Python thread can interleave with."""
        return list(self.records.values())

    def categories(self) -> list[str]:
        """The categories open stores have, sorted; rebuilt after a change."""
        categories = self._categories
        if categories is None:
            categories = self._categories = sorted({r.category for r in self.snapshot()})
        return categories

    def positions(self, merchant_id: int | None = None, categories: tuple[str, ...] = ()
                  ) -> tuple[np.ndarray, np.ndarray]:
        """(lats, lngs) of every open store - or of one merchant's, of some categories - as arrays;
        all of them are kept until a change."""
        if merchant_id is None and not categories:
            positions = self._positions
            if positions is None:
                positions = self._positions = _arrays(self.snapshot())
            return positions
        return _arrays([r for r in self.snapshot() if (merchant_id is None or r.merchant_id == merchant_id)
                        and (not categories or r.category in categories)])

    async def refresh(self) -> bool:
        batch = await asyncio.to_thread(self.fetch_changes)
        if batch is None:
            return False
        if batch.reload:
            await asyncio.to_thread(self.load)
        else:
            self.apply(batch)
        return True

    def stop(self) -> None:
        self._stopping.set()

    async def follow(self, poll_s: float) -> None:
        """Poll the change feed until stop(); prune it now and then.

        A poll asks one cheap question on a connection of its own (the newest change's number) and
        reads the changes only when there are some. Stopped by a flag, not a cancel: a poll's
        database work runs in a thread that a cancel would orphan while the engine is being disposed.
        """
        polls = 0
        watch = self.repository.watch()
        try:
            while not self._stopping.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), poll_s)
                if self._stopping.is_set():
                    return
                try:
                    if await asyncio.to_thread(self.repository.newest_change, watch) > self.seq:
                        await self.refresh()
                    polls += 1
                    if polls % 40 == 0:  # boundaries change rarely: look every ten seconds or so
                        await asyncio.to_thread(self.load_regions)
                    if polls % 1200 == 0 and self.seq > _FEED_KEEP:
                        await asyncio.to_thread(self.repository.prune_changes, self.seq - _FEED_KEEP)
                except Exception:  # a database blip must not kill the follower; the next poll retries
                    log.exception("change feed poll failed")
        finally:
            await asyncio.to_thread(watch.close)

    # ---- queries --------------------------------------------------------------------
    def nearby(
        self,
        lat: float,
        lng: float,
        radius_m: float,
        limit: int,
        categories: Iterable[str] | None = None,
        keep: Callable[[StoreRecord], bool] | None = None,
        after: tuple[float, int] | None = None,
    ) -> tuple[list[tuple[StoreRecord, float]], int]:
        """(store, metres) within radius_m (passing `keep`, if given), nearest first, ties by id,
        starting after the (metres, id) `after` when given; also how many matched in all."""
        if keep is None:  # the index ranks only the page (after `after`) and counts every store
            result = self.index.nearby(lat, lng, radius_m, limit, categories, after)
            return self._pairs(result.ids, result.distances_m), result.matched
        result = self.index.nearby(lat, lng, radius_m, None, categories)  # `keep` decides: every candidate
        kept = [pair for pair in self._pairs(result.ids, result.distances_m) if keep(pair[0])]
        return following(kept, after)[:limit], len(kept)

    def _pairs(self, ids: npt.NDArray[np.int64], metres: npt.NDArray[np.float64]) -> list[tuple[StoreRecord, float]]:
        records = self.records
        try:
            return list(zip(map(records.__getitem__, ids.tolist()), metres.tolist(), strict=True))
        except KeyError:  # a reader in a thread, and the store was removed since the index answered
            return [(record, m) for i, m in zip(ids.tolist(), metres.tolist(), strict=True)
                    if (record := records.get(i)) is not None]


def _arrays(records: list[StoreRecord]) -> tuple[np.ndarray, np.ndarray]:
    return (np.fromiter((r.lat for r in records), np.float64, len(records)),
            np.fromiter((r.lng for r in records), np.float64, len(records)))
