"""Reviews only after the member's own visit, one per visit; the rating shows in details and nearby."""

import time

from tests.conftest import client_for
from tests.service.test_redemption import bearer, setup_coupon


def test_review_needs_a_visit_and_counts_once_per_visit(sqlite_settings):
    _, (a, b, *_), coupon = setup_coupon(sqlite_settings)
    with client_for(sqlite_settings) as client:
        holder = bearer(sqlite_settings, "user", "holder")
        before = client.post(f"/v1/stores/{a}/reviews", headers=holder, json={"rating": 5, "text": "great"})
        assert before.status_code == 403 and "after your own visit" in before.json()["detail"]
        redeemed = client.post(f"/v1/stores/{a}/redemptions", json={"code": coupon.code},
                               headers=bearer(sqlite_settings, "staff", "s1", a))
        assert redeemed.status_code == 200
        review = client.post(f"/v1/stores/{a}/reviews", headers=holder, json={"rating": 4, "text": "quick"})
        assert review.status_code == 201 and review.json()["visit_kind"] == "redemption"
        assert client.post(f"/v1/stores/{a}/reviews", headers=holder, json={"rating": 1}).status_code == 409
        elsewhere = client.post(f"/v1/stores/{b}/reviews", headers=holder, json={"rating": 5})
        assert elsewhere.status_code == 403  # the visit was at store a
        stranger = client.post(f"/v1/stores/{a}/reviews", headers=bearer(sqlite_settings, "user", "x"),
                               json={"rating": 5})
        assert stranger.status_code == 403
        for bad in ({"rating": 0}, {"rating": 6}, {"rating": "5"}, {"rating": 3, "stars": 3}):
            assert client.post(f"/v1/stores/{a}/reviews", headers=holder, json=bad).status_code == 422
        detail = client.get(f"/v1/stores/{a}").json()["properties"]["rating"]
        assert detail == {"average": 4.0, "count": 1}
        near = client.get("/v1/stores/nearby", params={"lat": 32.05, "lng": 118.78, "radius_m": 50000}).json()
        ratings = {f["id"]: f["properties"]["rating"] for f in near["features"]}
        assert ratings[str(a)] == {"average": 4.0, "count": 1} and ratings[str(b)] is None


def test_a_second_worker_shows_the_new_rating(sqlite_settings):
    _, (a, *_), coupon = setup_coupon(sqlite_settings)
    with client_for(sqlite_settings) as writer, client_for(sqlite_settings) as reader:
        writer.post(f"/v1/stores/{a}/redemptions", json={"code": coupon.code},
                    headers=bearer(sqlite_settings, "staff", "s1", a))
        writer.post(f"/v1/stores/{a}/reviews", headers=bearer(sqlite_settings, "user", "holder"), json={"rating": 2})
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            near = reader.get("/v1/stores/nearby", params={"lat": 32.05, "lng": 118.78, "radius_m": 50000}).json()
            if {f["id"]: f["properties"]["rating"] for f in near["features"]}.get(str(a)):
                break
            time.sleep(0.02)
        assert {f["id"]: f["properties"]["rating"] for f in near["features"]}[str(a)] == {"average": 2.0, "count": 1}


def test_full_loop_then_profile(sqlite_settings):
    """claim -> redeem -> review, and the member profile that grows from it."""
    from h3.api import basic_int as h3i

    from lbs_service.storage.models import Store

    db, (a, *_), coupon = setup_coupon(sqlite_settings)
    with client_for(sqlite_settings) as client:
        holder = bearer(sqlite_settings, "user", "holder")
        assert client.get("/v1/users/me/profile", headers=holder).json()["tags"]["favourite_categories"] == []
        client.post(f"/v1/stores/{a}/redemptions", json={"code": coupon.code},
                    headers=bearer(sqlite_settings, "staff", "s1", a))
        assert client.post(f"/v1/stores/{a}/reviews", headers=holder, json={"rating": 5}).status_code == 201
        profile = client.get("/v1/users/me/profile", headers=holder).json()
    with db.session() as session:
        store = session.get(Store, a)
    assert profile["visits"] == 1 and profile["tier"] == "member"
    assert profile["tags"]["favourite_categories"] == [store.category]
    assert profile["tags"]["home_area"] == h3i.int_to_str(h3i.cell_to_parent(store.h3_r9, 7))
