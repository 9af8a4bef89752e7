"""The finder's service worker in Chromium: a push event dispatched to it (through the DevTools
protocol: no external push service is reachable here) shows the notification the payload
describes, and only ever points at a page of this app; a notification opened from an offer shows
that store and its offers; the switch "Notify me when the app is closed" registers the worker."""

import json
import time

from tests.live import live_server, token
from tests.service.test_nearby_api import seed
from tests.web.conftest import open_page, screenshot

NOTIFICATIONS = ("navigator.serviceWorker.ready.then((r) => r.getNotifications()).then((all) => all.map((n) => "
                 "({title: n.title, body: n.body, tag: n.tag, url: n.data && n.data.url})))")


def _push(page, host, payload) -> None:
    cdp = page.context.new_cdp_session(page)
    registrations: list[dict] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda event: registrations.extend(event["registrations"]))
    cdp.send("ServiceWorker.enable")
    deadline = time.monotonic() + 5
    while not registrations and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    live = [r for r in registrations if not r["isDeleted"] and r["scopeURL"] == f"http://{host}/"]
    assert live, registrations
    cdp.send("ServiceWorker.deliverPushMessage", {"origin": f"http://{host}", "registrationId":
                                                  live[0]["registrationId"], "data": json.dumps(payload)})


def _shown(page, count: int) -> list[dict]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        shown = page.evaluate(NOTIFICATIONS)
        if len(shown) >= count:
            return shown
        page.wait_for_timeout(50)
    raise AssertionError(f"{count} notifications expected, {page.evaluate(NOTIFICATIONS)} shown")


def test_a_push_to_the_service_worker_shows_its_notification_and_nothing_else(sqlite_settings, browser):
    seed(sqlite_settings, count=3)
    with live_server(sqlite_settings) as host:
        page = open_page(browser, host, f"/?token={token(sqlite_settings, 'user', 'olga')}",
                         permissions=["notifications"])
        page.wait_for_selector("body[data-push-ready=true]", timeout=10000)
        assert page.locator("[data-testid=push-switch]").is_enabled()
        assert page.evaluate("navigator.serviceWorker.ready.then((r) => r.scope)") == f"http://{host}/"
        _push(page, host, {"title": "Corner café", "body": "Coffee 2 for 1 · 350 m", "url": "/?offer=7",
                           "tag": "offer"})
        assert _shown(page, 1) == [{"title": "Corner café", "body": "Coffee 2 for 1 · 350 m", "tag": "offer",
                                    "url": "/?offer=7"}]
        # A newer offer replaces the older one (same tag); a payload naming another site opens the finder.
        _push(page, host, {"title": "Tea house", "body": "Tea · 120 m", "url": "https://evil.example/", "tag": "offer"})
        deadline = time.monotonic() + 5
        while page.evaluate(NOTIFICATIONS)[0]["title"] != "Tea house" and time.monotonic() < deadline:
            page.wait_for_timeout(50)
        assert page.evaluate(NOTIFICATIONS) == [{"title": "Tea house", "body": "Tea · 120 m", "tag": "offer",
                                                 "url": "/"}]
        tricks = ["//evil.example/x", "/\\evil.example/x", "/\t/evil.example", "/\n/evil.example", "javascript:1",
                  "https://evil.example/?offer=1"]
        for n, url in enumerate(tricks):
            _push(page, host, {"title": "Shop", "body": "Your order is ready", "url": url, "tag": f"order-{n}"})
        _push(page, host, {"title": "Shop", "body": "Ready", "url": "/?offer=12#top", "tag": "own"})
        shown = {n["tag"]: n["url"] for n in _shown(page, len(tricks) + 2)}
        assert shown == {"offer": "/", "own": "/?offer=12#top", **{f"order-{n}": "/" for n in range(len(tricks))}}
        assert page.foreign == []


def test_a_notification_opened_from_an_offer_shows_that_store(sqlite_settings, browser):
    rows = seed(sqlite_settings, count=3)
    with live_server(sqlite_settings) as host:
        page = open_page(browser, host, "/")
        page.wait_for_selector("body[data-map-ready=true]", timeout=10000)
        nearby = page.evaluate("fetch('/v1/stores/nearby?lat=32.05&lng=118.78&radius_m=50000').then((r) => r.json())")
        store = nearby["features"][0]
        offered = open_page(browser, host, f"/?offer={store['id']}")
        item = offered.locator("[data-testid=store-item]")
        item.first.wait_for(timeout=5000)
        assert item.count() == 1 and store["properties"]["name"] in item.inner_text()
        assert "The offer you were sent" in offered.locator("#status").inner_text()
        assert {r["name"] for r in rows} >= {store["properties"]["name"]}
        screenshot(offered, "finder-opened-from-notification")
        assert offered.foreign == []


def test_the_switch_says_why_when_this_browser_cannot_subscribe(sqlite_settings, browser):
    """Headless Chromium has no push service to register with (the real browsers' are on the internet):
    the switch stays off and says so, and the server holds no subscription. Where a browser can
    subscribe, the same code posts PushSubscription.toJSON(), the body the API tests send."""
    user = token(sqlite_settings, "user", "olga")
    with live_server(sqlite_settings) as host:
        page = open_page(browser, host, f"/?token={user}", permissions=["notifications"])
        page.wait_for_selector("body[data-push-ready=true]", timeout=10000)
        switch = page.locator("[data-testid=push-switch]")
        switch.click()
        note = page.locator("[data-testid=push-note]")
        page.wait_for_selector("[data-testid=push-note]:not(:empty)", timeout=15000)
        assert not switch.is_checked() and switch.is_enabled()
        assert "push service" in note.inner_text()
        held = page.evaluate("fetch('/v1/users/me/push-subscriptions', {headers: {Authorization: 'Bearer "
                             + user + "'}}).then((r) => r.json())")
        assert held == {"subscriptions": []} and page.foreign == []
