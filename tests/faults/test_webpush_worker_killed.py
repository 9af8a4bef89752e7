"""A worker killed (SIGKILL) between the commit of a push and its sending: the order became ready in
that worker's transaction while its sender was at capacity (a push service stalling on as many
requests as a worker sends at once), the worker died, and another worker - started afterwards, with
nothing but the database to go on - delivers it, once."""

import os
import signal
import time
import uuid

import httpx
import pytest
from sqlalchemy import select

from lbs_service.settings import Settings
from lbs_service.storage.db import Database
from lbs_service.storage.models import WebPushDelivery
from lbs_service.webpush.sender import IN_FLIGHT
from tests.conftest import forget_redis_prefix
from tests.processes import start_server, stop_server
from tests.push_service import Browser, PushServiceStandIn
from tests.service.test_orders import auth, shop
from tests.service.test_webpush import ready_order

pytestmark = pytest.mark.postgis


def _wait(condition, what: str, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_a_push_committed_by_a_killed_worker_is_delivered_once_by_another(pg_settings):
    prefix = f"wpk{uuid.uuid4().hex[:6]}"
    redis_url = os.environ["LBS_TEST_REDIS_URL"]
    with PushServiceStandIn().running() as stand_in:
        settings = Settings(database_url=pg_settings.database_url, redis_url=redis_url, redis_prefix=prefix)
        env = {"LBS_DATABASE_URL": settings.database_url, "LBS_REDIS_URL": redis_url, "LBS_REDIS_PREFIX": prefix,
               "LBS_RATE_LIMITS": "off", "LBS_SECRET_KEY": settings.secret_key,
               "LBS_WEBPUSH_ALLOWED_HOSTS": stand_in.origin, "LBS_WEBPUSH_POLL_S": "0.05"}
        db = Database(settings)
        host, victim = start_server(env)
        survivor = None
        try:
            with httpx.Client(base_url=f"http://{host}", timeout=10) as client:
                shop_ = shop(settings, client, stock=(IN_FLIGHT // 8 + 1, 0, 0))
                stand_in.app_key = client.get("/v1/push/vapid-public-key").json()["key"]
                phone = Browser("ann-phone")
                created = client.post("/v1/users/me/push-subscriptions", json=stand_in.subscription(phone),
                                      headers=auth(settings, "user", "ann"))
                assert created.status_code == 201, created.text
                # The victim's sender is kept busy: as many pushes as it sends at once (owed to others) are
                # held by a push service that stalls...
                for user in range(IN_FLIGHT // 8):
                    for n in range(8):
                        stalled = Browser(f"stalled-{user}-{n}")
                        stand_in.hang(stalled, 30.0)
                        assert client.post("/v1/users/me/push-subscriptions", json=stand_in.subscription(stalled),
                                           headers=auth(settings, "user", f"busy-{user}")).status_code == 201
                    ready_order(client, settings, f"busy-{user}", shop_)
                _wait(lambda: len(stand_in.arrived) == IN_FLIGHT, "the stalled requests")
                # ...while Ann's order becomes ready in the victim's own transaction.
                placed = ready_order(client, settings, "ann", shop_)
            with db.session() as session:
                owed = session.execute(select(WebPushDelivery.state, WebPushDelivery.attempts)
                                       .where(WebPushDelivery.user_id == "ann")).all()
            assert owed == [("pending", 0)]  # committed, not yet sent
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait(10)
            assert "ann-phone" not in stand_in.arrived  # the victim never sent Ann's push

            _, survivor = start_server(env)
            _wait(lambda: len(stand_in.delivered("ann-phone")) == 1, "the survivor's push")
            time.sleep(0.5)
        finally:
            if survivor is not None:
                stop_server(survivor)
            if victim.poll() is None:
                victim.kill()
            forget_redis_prefix(redis_url, prefix)
    assert stand_in.delivered("ann-phone") == [{"title": stand_in.delivered("ann-phone")[0]["title"],
                                                "body": "Your order is ready for pickup", "url": "/",
                                                "tag": f"order-{placed['id']}"}]
    assert [r.browser for r in stand_in.received].count("ann-phone") == 1
    with db.session() as session:
        assert session.execute(select(WebPushDelivery.state, WebPushDelivery.attempts)
                               .where(WebPushDelivery.user_id == "ann")).all() == [("sent", 1)]
