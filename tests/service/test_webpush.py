"""Web Push end to end against a push service stand-in that checks VAPID and decrypts (tests/push_service.py):
the user whose app is closed gets exactly one push, the user whose socket is open none; 410 removes
the subscription; 503 then 201 delivers once; Retry-After is honoured; an endpoint off the allow-list
is refused and nothing leaves the app; a withdrawn consent stops offer pushes."""

import asyncio
import base64
import time
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from lbs_service.outbox.pushes import offer_notice, prune_finished, queue_pushes, reply_notice
from lbs_service.storage.db import Database
from lbs_service.storage.models import ConsentRecord, PushSubscription, Store, WebPushDelivery
from tests.clock import T0
from tests.conftest import client_for
from tests.live import live_server, receive, ws_connect
from tests.push_service import Browser, PushServiceStandIn
from tests.service.test_orders import auth, order, shop


@pytest.fixture
def stand_in():
    with PushServiceStandIn().running() as service:
        yield service


def push_settings(settings, stand_in, **extra):
    return settings.model_copy(update={"webpush_allowed_hosts": f"fcm.googleapis.com,{stand_in.origin}",
                                       "webpush_poll_s": 0.05, "webpush_retry_base_s": 0.2, **extra})


def subscribe(client, settings, stand_in, user, browser):
    stand_in.app_key = client.get("/v1/push/vapid-public-key").json()["key"]
    answer = client.post("/v1/users/me/push-subscriptions", json=stand_in.subscription(browser),
                         headers=auth(settings, "user", user))
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def ready_order(client, settings, user, ids_and_sku):
    (store, *_), sku = ids_and_sku
    headers = auth(settings, "user", user)
    placed = order(client, headers, store, sku, 1).json()
    assert client.post(f"/v1/payments/simulated/{placed['payment']['ref']}/pay", headers=headers).status_code == 200
    ready = client.post(f"/v1/orders/{placed['id']}/ready", headers=auth(settings, "staff", "s", store))
    assert ready.status_code == 200, ready.text
    return placed


def deliveries(settings):
    with Database(settings).session() as session:
        return list(session.scalars(select(WebPushDelivery).order_by(WebPushDelivery.id)))


def settle(settings, count=1, timeout_s=10.0):
    """Wait until `count` deliveries are finished (not pending)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        rows = deliveries(settings)
        if len(rows) >= count and all(r.state != "pending" for r in rows):
            return rows
        time.sleep(0.05)
    raise AssertionError(f"deliveries not settled: {[(r.state, r.attempts) for r in deliveries(settings)]}")


def test_the_key_browsers_subscribe_with_is_a_p256_point_kept_across_restarts(sqlite_settings):
    with client_for(sqlite_settings) as client:
        first = client.get("/v1/push/vapid-public-key").json()["key"]
    with client_for(sqlite_settings) as client:
        assert client.get("/v1/push/vapid-public-key").json()["key"] == first  # subscriptions outlive a restart
    raw = base64.urlsafe_b64decode(first + "=" * (-len(first) % 4))
    assert len(raw) == 65 and raw[0] == 4 and "=" not in first


def test_a_user_whose_app_is_closed_gets_exactly_one_push_with_only_what_it_shows(sqlite_settings, stand_in):
    settings = push_settings(sqlite_settings, stand_in)
    with client_for(settings) as client:
        shop_ = shop(settings, client)
        phone = Browser("olga-phone")
        subscribe(client, settings, stand_in, "olga", phone)
        placed = ready_order(client, settings, "olga", shop_)
        got = stand_in.wait_for(1)
        rows = settle(settings)
        time.sleep(0.3)  # nothing more comes
    assert len(stand_in.received) == 1 and got[0].problem is None and got[0].status == 201
    with Database(settings).session() as session:
        store_name = session.scalar(select(Store.name).where(Store.id == shop_[0][0]))
    assert got[0].payload == {"title": store_name, "body": "Your order is ready for pickup", "url": "/",
                              "tag": f"order-{placed['id']}"}
    headers = got[0].headers
    assert headers["topic"] == f"order-{placed['id']}" and headers["urgency"] == "high"
    assert 0 < int(headers["ttl"]) <= settings.webpush_ttl_s
    assert placed["pickup_code"] not in str(got[0].payload)  # the code stays in the app
    assert [(r.state, r.attempts, r.last_status) for r in rows] == [("sent", 1, 201)]


async def test_a_user_whose_socket_is_open_gets_it_there_and_no_push(sqlite_settings, stand_in):
    settings = push_settings(sqlite_settings, stand_in)
    with live_server(settings) as host, httpx.Client(base_url=f"http://{host}") as client:
        shop_ = await asyncio.to_thread(shop, settings, client)
        await asyncio.to_thread(subscribe, client, settings, stand_in, "ivan", Browser("ivan-phone"))
        path = f"/v1/ws/user?token={auth(settings, 'user', 'ivan')['Authorization'].split()[1]}"
        async with ws_connect(host, path) as socket:
            await asyncio.to_thread(ready_order, client, settings, "ivan", shop_)
            statuses = []
            while "ready" not in statuses:
                statuses.append((await receive(socket))["status"])
            rows = await asyncio.to_thread(settle, settings)
    assert [r.state for r in rows] == ["online"] and stand_in.received == []


def test_410_from_the_push_service_removes_the_subscription(sqlite_settings, stand_in):
    settings = push_settings(sqlite_settings, stand_in)
    with client_for(settings) as client:
        shop_ = shop(settings, client)
        gone, kept = Browser("old-phone"), Browser("new-phone")
        subscribe(client, settings, stand_in, "olga", gone)
        subscribe(client, settings, stand_in, "olga", kept)
        stand_in.answer(gone, 410)
        ready_order(client, settings, "olga", shop_)
        stand_in.wait_for(2)
        deadline = time.monotonic() + 5
        while len(client.get("/v1/users/me/push-subscriptions", headers=auth(settings, "user", "olga")).json()[
                "subscriptions"]) != 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        listed = client.get("/v1/users/me/push-subscriptions", headers=auth(settings, "user", "olga")).json()
    assert [s["push_service"] for s in listed["subscriptions"]] == ["127.0.0.1"]
    assert len(stand_in.delivered("new-phone")) == 1 and stand_in.delivered("old-phone") == []
    with Database(settings).session() as session:
        endpoints = session.scalars(select(PushSubscription.endpoint)).all()
    assert endpoints == [f"{stand_in.origin}/push/new-phone"]


def test_503_then_201_is_delivered_once_after_a_retry_and_retry_after_is_honoured(sqlite_settings, stand_in):
    settings = push_settings(sqlite_settings, stand_in)
    with client_for(settings) as client:
        shop_ = shop(settings, client)
        flaky, busy = Browser("flaky"), Browser("busy")
        subscribe(client, settings, stand_in, "olga", flaky)
        subscribe(client, settings, stand_in, "olga", busy)
        stand_in.answer(flaky, 503)
        stand_in.answer(busy, (429, {"Retry-After": "1"}))
        ready_order(client, settings, "olga", shop_)
        rows = settle(settings, 2)
    assert [(r.state, r.attempts) for r in rows] == [("sent", 2), ("sent", 2)]
    assert len(stand_in.delivered("flaky")) == 1 and len(stand_in.delivered("busy")) == 1
    busy_times = [r.at for r in stand_in.received if r.browser == "busy"]
    assert [r.status for r in stand_in.received if r.browser == "busy"] == [429, 201]
    assert busy_times[1] - busy_times[0] >= 0.95  # it waited as long as the push service asked


def test_a_push_service_that_keeps_failing_is_given_up_after_the_last_try(sqlite_settings, stand_in):
    settings = push_settings(sqlite_settings, stand_in, webpush_max_attempts=3, webpush_retry_base_s=0.05)
    with client_for(settings) as client:
        shop_ = shop(settings, client)
        down = Browser("down")
        subscribe(client, settings, stand_in, "olga", down)
        stand_in.answer(down, 500, 502, 503, 504)
        ready_order(client, settings, "olga", shop_)
        rows = settle(settings)
    assert [(r.state, r.attempts, r.last_status) for r in rows] == [("failed", 3, 503)]
    assert len(stand_in.received) == 3


@pytest.mark.parametrize("endpoint", [
    "{other}/push/x",  # a host that is not a push service
    "https://127.0.0.1:{other_port}/push/x",
    "{allowed_scheme}://127.0.0.1:{allowed_port}@127.0.0.1:{other_port}/push/x",  # userinfo: names the other host
    "https://fcm.googleapis.com@127.0.0.1:{other_port}/push/x",
    "https://fcm.googleapis.com:443@127.0.0.1:{other_port}/",
    "http://fcm.googleapis.com/fcm/send/x",  # an allowed host, but not over https
    "https://fcm.googleapis.com.evil.example/x",
    "https://evil.example/fcm.googleapis.com",
    "https://fcm.googleapis.com\\@127.0.0.1/",
    "ftp://fcm.googleapis.com/x",
    "https://fcm.googleapis.com/x#frag",
    "https:///fcm.googleapis.com",
    "http://localhost:{allowed_port}/push/x",  # the same machine by another name is another host
])
def test_an_endpoint_off_the_allow_list_is_refused_and_nothing_leaves_the_app(sqlite_settings, stand_in, endpoint):
    settings = push_settings(sqlite_settings, stand_in)
    with PushServiceStandIn().running() as other, client_for(settings) as client:
        shop_ = shop(settings, client)
        url = endpoint.format(other=other.origin, other_port=other.port, allowed_scheme="http",
                              allowed_port=stand_in.port)
        body = {**stand_in.subscription(Browser("x")), "endpoint": url}
        refused = client.post("/v1/users/me/push-subscriptions", json=body, headers=auth(settings, "user", "olga"))
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        ready_order(client, settings, "olga", shop_)
        time.sleep(0.3)
    assert other.received == [] and stand_in.received == [] and deliveries(settings) == []


def test_bad_keys_are_refused_and_the_same_browser_keeps_its_id(sqlite_settings, stand_in):
    settings = push_settings(sqlite_settings, stand_in)
    user = auth(settings, "user", "olga")
    with client_for(settings) as client:
        browser = Browser("b")
        good = stand_in.subscription(browser)
        not_on_curve = "BA" + "A" * 85
        for keys in ({"p256dh": not_on_curve, "auth": good["keys"]["auth"]},
                     {"p256dh": good["keys"]["p256dh"], "auth": "AAAAAAAAAAAAAAAAAAAA"},  # 15 bytes
                     {"p256dh": good["keys"]["p256dh"][:-4] + "!!!!", "auth": good["keys"]["auth"]},
                     {"p256dh": good["keys"]["p256dh"]}):
            answer = client.post("/v1/users/me/push-subscriptions", json={**good, "keys": keys}, headers=user)
            assert answer.status_code == 422, (keys, answer.text)
        first = client.post("/v1/users/me/push-subscriptions", json=good, headers=user).json()["id"]
        again = client.post("/v1/users/me/push-subscriptions", json={**good, "expirationTime": 4102444800000},
                            headers=user)
        assert again.status_code == 201 and again.json()["id"] == first
        listed = client.get("/v1/users/me/push-subscriptions", headers=user).json()["subscriptions"]
        assert listed[0]["expires_at"].startswith("2100-01-01") and "endpoint" not in listed[0]
        assert client.delete(f"/v1/users/me/push-subscriptions/{first}",
                             headers=auth(settings, "user", "mallory")).status_code == 404  # not theirs
        assert client.delete(f"/v1/users/me/push-subscriptions/{first}", headers=user).status_code == 204
        assert client.delete(f"/v1/users/me/push-subscriptions/{first}", headers=user).status_code == 404
        for n in range(10):
            assert client.post("/v1/users/me/push-subscriptions", json=stand_in.subscription(Browser(f"d{n}")),
                               headers=user).status_code == 201
        eleventh = client.post("/v1/users/me/push-subscriptions", json=stand_in.subscription(Browser("d10")),
                               headers=user)
        assert eleventh.status_code == 409
        assert client.post("/v1/users/me/push-subscriptions", json=good).status_code == 401
        assert client.post("/v1/users/me/push-subscriptions", json=good,
                           headers=auth(settings, "staff", "s", 1)).status_code == 403


def _offer_owed(settings, user, browser_endpoint_and_keys):
    """An offer push owed to `user`, as the group committer writes it."""
    db = Database(settings)
    with db.transaction() as session:
        session.add(PushSubscription(user_id=user, endpoint=browser_endpoint_and_keys["endpoint"],
                                     p256dh=browser_endpoint_and_keys["keys"]["p256dh"],
                                     auth=browser_endpoint_and_keys["keys"]["auth"], created_at=T0))
        session.flush()
        queue_pushes(session, [offer_notice(user, 7, "Corner shop", "Coffee 2 for 1", 347.0)], T0)


def test_offers_follow_consent_at_the_moment_of_sending(sqlite_settings, stand_in):
    settings = push_settings(sqlite_settings, stand_in)
    db = Database(settings)
    with db.transaction() as session:
        session.add(ConsentRecord(user_id="yes", purpose="location_marketing", granted=True))
        session.add(ConsentRecord(user_id="withdrew", purpose="location_marketing", granted=True))
        session.add(ConsentRecord(user_id="withdrew", purpose="location_marketing", granted=False))
    with client_for(settings) as client:
        stand_in.app_key = client.get("/v1/push/vapid-public-key").json()["key"]
        _offer_owed(settings, "yes", stand_in.subscription(Browser("yes")))
        _offer_owed(settings, "withdrew", stand_in.subscription(Browser("withdrew")))
        rows = settle(settings, 2)
    assert {(r.user_id, r.state) for r in rows} == {("yes", "sent"), ("withdrew", "dropped")}
    assert stand_in.delivered() == [{"title": "Corner shop", "body": "Coffee 2 for 1 · 350 m", "url": "/?offer=7",
                                     "tag": "offer"}]
    assert stand_in.received[0].headers["topic"] == "offer"  # a newer offer replaces an unread one


def test_a_push_older_than_its_ttl_is_not_sent(sqlite_settings, stand_in):
    settings = push_settings(sqlite_settings, stand_in, webpush_ttl_s=60)
    db = Database(settings)
    with db.transaction() as session:
        session.add(ConsentRecord(user_id="late", purpose="location_marketing", granted=True))
    with client_for(settings) as client:
        stand_in.app_key = client.get("/v1/push/vapid-public-key").json()["key"]
        subscription = stand_in.subscription(Browser("late"))
        with db.transaction() as session:
            session.add(PushSubscription(user_id="late", endpoint=subscription["endpoint"],
                                         p256dh=subscription["keys"]["p256dh"], auth=subscription["keys"]["auth"],
                                         created_at=T0))
            session.flush()
            queue_pushes(session, [offer_notice("late", 7, "Corner shop", "Coffee", 100.0)], T0 - timedelta(hours=1))
        rows = settle(settings)
    assert [r.state for r in rows] == ["expired"] and stand_in.received == []


def test_finished_deliveries_are_pruned_after_their_retention_and_pending_ones_never(sqlite_settings):
    db = Database(sqlite_settings)
    with db.transaction() as session:
        session.add(PushSubscription(user_id="u", endpoint="https://fcm.googleapis.com/x", p256dh="p", auth="a",
                                     created_at=T0))
        session.flush()
        queue_pushes(session, [reply_notice("u", "Shop", n, "t") for n in range(3)], T0)
    with db.transaction() as session:
        old, recent, pending = session.scalars(select(WebPushDelivery).order_by(WebPushDelivery.id)).all()
        old.state, old.finished_at = "sent", T0 - timedelta(days=2)
        recent.state, recent.finished_at = "failed", T0 - timedelta(hours=1)
        pending.due_at = T0 - timedelta(days=3)  # long overdue, but still owed
    assert prune_finished(db, 24 * 3600, T0) == 1
    assert [(r.state, r.topic) for r in deliveries(sqlite_settings)] == [("failed", "visit-1"), ("pending", "visit-2")]


def test_a_failure_on_our_side_is_retried_like_no_answer_and_given_up_at_the_last_try(sqlite_settings, stand_in):
    settings = push_settings(sqlite_settings, stand_in, webpush_max_attempts=3, webpush_retry_base_s=0.05)
    with client_for(settings) as client:
        services = client.app.state.services

        async def backplane_away(channel: str) -> bool:
            raise ConnectionError("Redis is away")

        services.hub.listening = backplane_away  # where a user's sockets are cannot be told
        shop_ = shop(settings, client)
        subscribe(client, settings, stand_in, "olga", Browser("phone"))
        ready_order(client, settings, "olga", shop_)
        rows = settle(settings)
    assert [(r.state, r.attempts) for r in rows] == [("failed", 3)] and stand_in.received == []


def test_the_export_lists_pushes_and_erasure_deletes_them(sqlite_settings, stand_in):
    settings = push_settings(sqlite_settings, stand_in)
    user = auth(settings, "user", "olga")
    with client_for(settings) as client:
        shop_ = shop(settings, client)
        subscribe(client, settings, stand_in, "olga", Browser("phone"))
        ready_order(client, settings, "olga", shop_)
        settle(settings)
        exported = client.get("/v1/users/me/location-data", headers=user).json()["web_pushes"]
        assert [(p["kind"], p["body"], p["state"]) for p in exported] == [
            ("order", "Your order is ready for pickup", "sent")]
        erased = client.delete("/v1/users/me/location-data", headers=user).json()["deleted"]
        assert erased["push_deliveries"] == 1
        assert client.get("/v1/users/me/location-data", headers=user).json()["web_pushes"] == []
        assert len(client.get("/v1/users/me/push-subscriptions", headers=user).json()["subscriptions"]) == 1
