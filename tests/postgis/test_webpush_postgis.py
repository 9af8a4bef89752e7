"""Web Push on PostgreSQL: an offer decided by the group committer becomes a push in the same
transaction; two workers' senders racing over the same deliveries send each once; a worker that
died holding a delivery (between commit and send) leaves it to the next one, which sends it once."""

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from lbs_service.outbox.pushes import queue_pushes, reply_notice
from lbs_service.storage.db import Database
from lbs_service.storage.models import PushSubscription, WebPushDelivery
from lbs_service.webpush.endpoints import parse_allowed_hosts
from lbs_service.webpush.sender import LEASE, PushSettings, WebPushSender
from push.broker import InProcessBroker
from push.hub import Hub
from tests.clock import T0, WIDE, iso
from tests.conftest import client_for, operator_headers
from tests.push_service import Browser, PushServiceStandIn
from tests.service.test_orders import auth

pytestmark = pytest.mark.postgis
ALWAYS = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


@pytest.fixture
def stand_in():
    with PushServiceStandIn().running() as service:
        yield service


def test_an_offer_from_a_walk_is_pushed_once_to_a_closed_app(pg_settings, stand_in):
    settings = pg_settings.model_copy(update={"webpush_allowed_hosts": stand_in.origin, "webpush_poll_s": 0.05})
    user = auth(settings, "user", "walker")
    with client_for(settings) as client:
        store = client.post("/v1/stores", headers=operator_headers(settings), json={
            "source_id": "WP-1", "name": "Corner café", "lat": 31.2304, "lng": 121.4737, "hours": ALWAYS})
        assert store.status_code == 201, store.text
        campaign = client.post("/v1/campaigns", headers=operator_headers(settings), json={
            "title": "Coffee 2 for 1", "level": "platform", **WIDE})
        assert campaign.status_code == 201, campaign.text
        assert client.put("/v1/users/me/consent", json={"location_marketing": True}, headers=user).status_code == 200
        stand_in.app_key = client.get("/v1/push/vapid-public-key").json()["key"]
        created = client.post("/v1/users/me/push-subscriptions", json=stand_in.subscription(Browser("walker")),
                              headers=user)
        assert created.status_code == 201
        walk = client.post("/v1/users/me/locations", headers=user, json={"fixes": [
            {"lat": 31.2504, "lng": 121.4737, "accuracy_m": 10, "ts": iso(-20)},
            {"lat": 31.2324, "lng": 121.4737, "accuracy_m": 10, "ts": iso(-10)}]})
        assert walk.status_code == 200, walk.text
        got = stand_in.wait_for(1)
        asyncio.run(asyncio.sleep(0.3))
    assert len(stand_in.received) == 1 and got[0].problem is None
    assert got[0].payload == {"title": "Corner café", "body": "Coffee 2 for 1 · 220 m",
                              "url": f"/?offer={store.json()['id']}", "tag": "offer"}
    assert "31.23" not in str(got[0].payload) and "121.47" not in str(got[0].payload)


def _owe(db, stand_in, users):
    with db.transaction() as session:
        for user in users:
            subscription = stand_in.subscription(Browser(user))
            session.add(PushSubscription(user_id=user, endpoint=subscription["endpoint"], created_at=T0,
                                         p256dh=subscription["keys"]["p256dh"], auth=subscription["keys"]["auth"]))
        session.flush()
        # Answers and orders are not offers: no consent is needed for these.
        queue_pushes(session, [reply_notice(user, "Corner café", n, f"ready {n}") for n, user in enumerate(users)],
                     T0)


def _sender(settings, stand_in, clock):
    push = PushSettings(parse_allowed_hosts(stand_in.origin), "", "mailto:ops@example.com", 3600, 0.1, 5, 60)
    return WebPushSender(Database(settings), Hub(InProcessBroker()), push, clock)


async def test_two_workers_racing_send_every_push_once(pg_settings, stand_in):
    users = [f"u{n}" for n in range(120)]
    _owe(Database(pg_settings), stand_in, users)
    now = [T0]
    first, second = _sender(pg_settings, stand_in, lambda: now[0]), _sender(pg_settings, stand_in, lambda: now[0])
    await first.start()
    await second.start()
    db = Database(pg_settings)
    try:
        stand_in.app_key = first.key.public_key
        assert second.key.public_key == first.key.public_key  # one key, kept in the database
        for _ in range(50):  # rounds of both workers at once, until nothing is owed (a retry comes due later)
            await asyncio.gather(first.send_due(), second.send_due(), first.send_due())
            with db.session() as session:
                if not session.scalar(select(func.count()).where(WebPushDelivery.state == "pending")):
                    break
            now[0] += timedelta(seconds=1)
    finally:
        await first.close()
        await second.close()
    bodies = sorted(p["body"] for p in stand_in.delivered())
    assert bodies == sorted(f"ready {n}" for n in range(len(users)))  # each once, none lost
    assert all(r.problem is None for r in stand_in.received)


async def test_a_delivery_held_by_a_dead_worker_is_sent_once_by_another(pg_settings, stand_in):
    db = Database(pg_settings)
    _owe(db, stand_in, ["ann"])
    now = [T0]
    victim, survivor = _sender(pg_settings, stand_in, lambda: now[0]), _sender(pg_settings, stand_in, lambda: now[0])
    await survivor.start()
    try:
        stand_in.app_key = survivor.key.public_key
        (held,) = victim._claim(now[0], 50)  # claimed after the commit; the worker stalls, then dies
        assert await survivor.send_due() == 0  # the lease holds: nobody sends it twice
        now[0] = T0 + LEASE + timedelta(seconds=1)
        assert await survivor.send_due() == 1
        assert await survivor.send_due() == 0
        victim._record(held, {"state": "failed"})  # the stalled worker wakes up: its claim is not the row's
    finally:
        await survivor.close()
    assert [p["body"] for p in stand_in.delivered()] == ["ready 0"]
    with db.session() as session:
        assert session.execute(select(WebPushDelivery.state, WebPushDelivery.attempts)).all() == [("sent", 2)]

