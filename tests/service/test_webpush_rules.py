"""The rules around Web Push that need no push service: the allow-list, distances as notifications
show them, the VAPID subject push services accept, the cap on subscriptions under concurrency."""

import threading

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from lbs_service.outbox.pushes import rounded_distance
from lbs_service.settings import Settings
from lbs_service.storage.db import Database
from lbs_service.storage.models import PushSubscription
from lbs_service.webpush.endpoints import endpoint_refusal, parse_allowed_hosts
from lbs_service.webpush.subscriptions import MAX_PER_USER, subscribe
from tests.clock import T0
from tests.push_service import Browser, b64url

DEFAULTS = parse_allowed_hosts(Settings.model_fields["webpush_allowed_hosts"].default)


@pytest.mark.parametrize("endpoint", [
    "https://fcm.googleapis.com/fcm/send/abc",
    "https://fcm.googleapis.com:443/fcm/send/abc",
    "https://FCM.googleapis.com./fcm/send/abc",
    "https://updates.push.services.mozilla.com/wpush/v2/abc",
    "https://web.push.apple.com/QGx",
    "https://wns2-par02p.notify.windows.com/w/?token=abc",
])
def test_the_major_browsers_push_services_are_allowed_by_default(endpoint):
    assert endpoint_refusal(endpoint, DEFAULTS) is None


@pytest.mark.parametrize("endpoint", [
    "https://fcm.googleapis.com:81/x",  # another port of an allowed host is not a push service
    "https://fcm.googleapis.com:22/x",
    "https://a..notify.windows.com/x",  # an empty label: no resolver takes it
    "https://" + "a" * 64 + ".notify.windows.com/x",
    "https://notify.windows.com/x",  # *.domain is its subdomains, not the domain itself
    "https://evilnotify.windows.com.example/x",
    "https://fcm.googleapis.com%2f@10.0.0.1/",
    "https://10.0.0.1/x",
    "https://[::1]/x",
    "https://fcm.googleapis.com:0/x",
    "https://fcm.googleapis.com:99999/x",
    "https://fcm.googleapis.com/x?y#z",
    "https://fcm.googleapis.com/\u00e9",
    "mailto:fcm.googleapis.com",
    "",
])
def test_anything_else_is_refused_with_a_reason(endpoint):
    assert endpoint_refusal(endpoint, DEFAULTS)


def test_entries_with_a_scheme_port_or_wildcard_mean_what_they_say():
    allowed = parse_allowed_hosts(" http://127.0.0.1:9999 , https://push.example.com:443, *.corp.example ,"
                                  "http://stand-in.local")
    assert endpoint_refusal("http://127.0.0.1:9999/p", allowed) is None
    assert endpoint_refusal("https://127.0.0.1:9999/p", allowed) is None  # https as well as the scheme named
    assert endpoint_refusal("http://127.0.0.1:9998/p", allowed)  # the port named, only
    assert endpoint_refusal("https://push.example.com/p", allowed) is None  # :443 is https's own port
    assert endpoint_refusal("http://push.example.com/p", allowed)
    assert endpoint_refusal("https://a.corp.example/p", allowed) is None
    assert endpoint_refusal("https://a.corp.example:8443/p", allowed)
    assert endpoint_refusal("http://stand-in.local:1234/p", allowed) is None  # a scheme entry without a port
    for bad in ("ftp://x.example", "http://x.example/path", "http://user@x.example", "x..example", "*.", "a b"):
        with pytest.raises(ValueError):
            parse_allowed_hosts(bad)


def test_distances_are_shown_as_a_person_reads_them():
    assert [rounded_distance(m) for m in (0, 3, 347, 994, 996, 1000, 1449, 12_345)] == [
        "10 m", "10 m", "350 m", "990 m", "1.0 km", "1.0 km", "1.4 km", "12.3 km"]


@pytest.mark.parametrize("subject", ["mailto:ops@example", "https://example", "https://example.com/contact",
                                     "mailto:a b@example.com", "ops@example.com"])
def test_a_vapid_subject_push_services_would_refuse_is_refused_at_start(subject):
    with pytest.raises(ValidationError):
        Settings(vapid_subject=subject)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def test_the_cap_holds_when_one_user_subscribes_many_browsers_at_once(backend, request):
    settings = request.getfixturevalue("sqlite_settings" if backend == "sqlite" else "pg_settings")
    db = Database(settings)
    allowed = parse_allowed_hosts("http://127.0.0.1")
    outcomes: list[str] = []
    start = threading.Barrier(30)

    def one(n: int) -> None:
        browser = Browser(f"b{n}")
        start.wait()
        try:  # 30 requests, 26 browsers: four subscribe twice at once (the same id, one row)
            subscribe(db, allowed, "olga", f"http://127.0.0.1/push/{n % 26}", browser.p256dh, b64url(browser.auth),
                      None, T0)
            outcomes.append("created")
        except Exception as error:
            outcomes.append(type(error).__name__)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with db.session() as session:
        stored = session.scalars(select(PushSubscription.endpoint).where(PushSubscription.user_id == "olga")).all()
    assert len(stored) == MAX_PER_USER == len(set(stored))
    assert set(outcomes) <= {"created", "Conflict"} and outcomes.count("Conflict") >= 26 - MAX_PER_USER
