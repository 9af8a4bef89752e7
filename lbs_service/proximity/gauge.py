"""The demand gauge of each store: how many people are near it, and how many are on their way with
an ETA under 5, 10 and 15 minutes - counts only, never a person, never a position.

Each worker counts the users whose visits it tracks live (a bucket per visit, geo_index.visits) and
reports the stores whose counts changed every `interval_s`; the backplane sums the workers' reports
and sends the store a `demand` message when the total changed, at most once per interval.
"""

import asyncio
import logging
import secrets
from collections import defaultdict

from push.hub import Hub
from push.messages import store_channel

log = logging.getLogger(__name__)

REPORT_BATCH = 250  # gauges per round trip to the backplane
Counts = list[int]  # [nearby, eta < 5 min, 5-10 min, 10-15 min]


class DemandGauge:
    """Counts per store of people nearby and approaching, published to consoles at most every interval."""

    def __init__(self, hub: Hub, interval_s: float) -> None:
        self.hub, self.interval_s = hub, interval_s
        self.worker = secrets.token_hex(6)
        self._counts: dict[int, Counts] = defaultdict(lambda: [0, 0, 0, 0])
        self._dirty: set[int] = set()

    def move(self, store_id: int, old_bucket: int, new_bucket: int) -> None:
        """A visit's bucket changed (-1: not counted; 0: nearby; 1-3: nearby with an ETA under 5/10/15 min)."""
        if old_bucket == new_bucket:
            return
        counts = self._counts[store_id]
        for bucket, sign in ((old_bucket, -1), (new_bucket, 1)):
            if bucket >= 0:
                counts[0] += sign
                if bucket > 0:
                    counts[bucket] += sign
        self._dirty.add(store_id)

    def counts(self, store_id: int) -> tuple[int, int, int, int]:
        c = self._counts.get(store_id, [0, 0, 0, 0])
        return c[0], c[1], c[2], c[3]

    async def report(self) -> int:
        """Send the changed stores' counts; returns how many demand messages went out."""
        dirty, self._dirty = self._dirty, set()
        if not dirty:
            return 0
        stores = sorted(dirty)
        results: list[int] = []
        try:
            # In batches: a crowd moves thousands of gauges at once, and one pipeline of them all was
            # built and read in a single step of the event loop (40 ms and more, asyncio debug).
            for start in range(0, len(stores), REPORT_BATCH):
                batch = stores[start:start + REPORT_BATCH]
                reports = [(store_channel(s), self.counts(s)) for s in batch]
                results += await self.hub.report_gauges(self.worker, reports, self.interval_s, 3 * self.interval_s)
        except Exception:
            self._dirty |= dirty  # the backplane is away: report them next time (an unchanged one sends nothing)
            raise
        for store_id, result in zip(stores, results, strict=True):
            if result < 0:
                self._dirty.add(store_id)  # changed too soon after the last message: report again
            if self._counts.get(store_id) == [0, 0, 0, 0]:
                self._counts.pop(store_id, None)
        return sum(1 for r in results if r > 0)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.report()
            except Exception as error:
                log.warning("demand gauge report skipped (%s)", type(error).__name__)
