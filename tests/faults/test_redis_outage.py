"""Redis cut off for 5 s in the middle of a stream of fixes (every connection reset, new ones
refused, by a fault proxy in front of a Redis of the test's own): while it is away the service
answers 503 with Retry-After and never another 5xx; afterwards every committed arrival reaches
its store's console exactly once."""

import asyncio
import threading
import uuid
from collections import Counter

from lbs_service.settings import Settings
from lbs_service.storage.migrate import upgrade
from tests.faults.fault_proxy import fault_proxy
from tests.faults.report import FaultRun, record
from tests.faults.scenario import console, finish, row_of_stores, shown_once, start_walkers
from tests.faults.servers import own_redis
from tests.live import live_server

USERS = 8


def test_redis_outage_gives_503_then_every_committed_alert_once(tmp_path):
    with own_redis() as redis_port, fault_proxy("127.0.0.1", redis_port) as proxy:
        settings = Settings(database_url="", sqlite_path=tmp_path / "lbs.sqlite3",
                            redis_url=f"redis://127.0.0.1:{proxy.port}/0", redis_prefix=f"fault{uuid.uuid4().hex[:6]}",
                            rate_limits=False, staff_alerts="all", change_feed_poll_s=0.05)
        upgrade(settings)
        store_ids = row_of_stores(settings)
        seen: list[tuple] = []
        statuses: Counter = Counter()
        retry_after: list[str] = []
        with live_server(settings) as base:

            async def run() -> None:
                stop_consoles, stop_walkers = asyncio.Event(), threading.Event()
                consoles = [asyncio.create_task(console(lambda: base, settings, s, seen, stop_consoles))
                            for s in store_ids]
                await asyncio.sleep(1.0)
                walkers = start_walkers(base, settings, USERS, statuses, retry_after, stop_walkers)
                await asyncio.sleep(3.0)
                proxy.set("reset")  # Redis gone: every connection cut, new ones refused
                await asyncio.sleep(5.0)
                proxy.set("pass")
                await asyncio.sleep(4.0)
                await finish(walkers, stop_walkers, settings, seen, stop_consoles)
                await asyncio.gather(*consoles)

            asyncio.run(run())
    committed, shown = shown_once(settings, seen)
    record(FaultRun("Redis cut off for 5 s during fixes", sum(statuses.values()),
                    sum(n for code, n in statuses.items() if code >= 500 and code != 503), statuses[503],
                    len(committed), len(committed - set(shown)), sum(n - 1 for n in shown.values())))
    assert statuses[503] > 0, "the outage never reached a request"
    assert all(code < 500 or code == 503 for code in statuses), statuses
    assert all(value.isdigit() and int(value) >= 1 for value in retry_after)
    assert len(committed) > 20
    assert set(shown) == committed  # every committed alert reached its console...
    assert max(shown.values()) == 1  # ...exactly once
