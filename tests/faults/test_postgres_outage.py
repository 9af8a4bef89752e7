"""PostgreSQL stopped (immediate shutdown, as in a crash) under redemption load, then started
again: every redemption that was answered 200 is in the database afterwards, requests while it is
down get 503 with Retry-After and never 500, and the same worker serves again once it is back
(its pool heals; nothing is restarted)."""

import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
from sqlalchemy import select

from lbs_service.o2o.coupons import claim
from lbs_service.settings import Settings
from lbs_service.storage.db import Database
from lbs_service.storage.migrate import upgrade
from lbs_service.storage.models import Campaign, Coupon, Redemption, Store
from lbs_service.storage.stores import StoreRepository
from tests.clock import T0, TIERS
from tests.faults.report import FaultRun, record
from tests.faults.servers import own_postgres
from tests.live import live_server, token

COUPONS = 240


def _setup(settings: Settings) -> tuple[int, list[str]]:
    upgrade(settings)
    db = Database(settings)
    StoreRepository(db).upsert_many("Crash", [{
        "source_id": "C1", "name": "Crash test cafe", "category": "cafe", "hours": None, "timezone": "Asia/Shanghai",
        "status": "open", "attributes": {}, "lat": 32.05, "lng": 118.78, "address": None, "phone": None}])
    now = T0
    with db.transaction() as session:
        store_id = session.scalars(select(Store.id)).one()
        campaign = Campaign(title="Crash deal", level="store", store_ids=[store_id], starts_at=now - timedelta(hours=1),
                            ends_at=now + timedelta(days=1), per_user_limit=1, priority=0, claimed=0, created_by="t")
        session.add(campaign)
        session.flush()
        campaign_id = campaign.id
    codes = [claim(db, campaign_id, f"guest-{n}", T0, TIERS).code for n in range(COUPONS)]
    db.dispose()
    return store_id, codes


def test_postgres_crash_loses_no_answered_redemption_and_the_pool_heals():
    with own_postgres() as postgres:
        settings = Settings(database_url=postgres.url, redis_url="", rate_limits=False, change_feed_poll_s=0.1)
        store_id, codes = _setup(settings)
        statuses: Counter = Counter()
        bad_retry_after: list[str] = []
        answered: dict[str, int] = {}
        lock = threading.Lock()
        with live_server(settings) as base:
            staff = {"Authorization": f"Bearer {token(settings, 'staff', 'cashier', store_id)}"}

            def redeem(code: str) -> None:
                key = uuid.uuid4().hex  # one key per coupon: a retry after a 503 is the same request
                with httpx.Client(base_url=f"http://{base}", timeout=30) as client:
                    deadline = time.monotonic() + 60
                    while time.monotonic() < deadline:
                        response = client.post(f"/v1/stores/{store_id}/redemptions", json={"code": code},
                                               headers={**staff, "Idempotency-Key": key})
                        with lock:
                            statuses[response.status_code] += 1
                        if response.status_code == 503:
                            if not response.headers.get("retry-after", "").isdigit():
                                bad_retry_after.append(response.headers.get("retry-after", ""))
                            time.sleep(0.3)
                            continue
                        with lock:
                            answered[code] = response.status_code
                        return

            def crash_and_recover() -> None:
                time.sleep(1.0)
                postgres.stop("immediate")
                time.sleep(3.0)
                postgres.start()

            chaos = threading.Thread(target=crash_and_recover)
            chaos.start()
            with ThreadPoolExecutor(8) as pool:
                for code in codes:
                    pool.submit(redeem, code)
                    time.sleep(0.02)  # about 50 redemptions a second, spread over the outage
            chaos.join()
            after = httpx.post(f"http://{base}/v1/stores/{store_id}/redemptions", json={"code": "NOSUCHCODE1"},
                               headers=staff, timeout=10)
            assert after.status_code == 404  # the same worker answers from the database again

        db = Database(settings)
        with db.session() as session:
            redeemed = set(session.scalars(select(Coupon.code).join(Redemption, Redemption.coupon_id == Coupon.id)))
        db.dispose()
    ok = {code for code, status in answered.items() if status == 200}
    record(FaultRun("PostgreSQL crash under redemptions", sum(statuses.values()),
                    sum(n for code, n in statuses.items() if code >= 500 and code != 503), statuses[503],
                    len(ok), len(ok - redeemed)))
    assert statuses[503] > 0, "the crash never reached a request"
    assert statuses[500] == 0 and all(code < 500 or code == 503 for code in statuses), statuses
    assert not bad_retry_after
    assert ok <= redeemed  # every 200 survived the crash
    assert len(answered) == COUPONS and ok == set(codes)  # and every coupon was redeemed in the end
