"""Scratch cards and wheels: the server draws with a cryptographic source and the stated odds hold;
no prize beyond its stock, no player beyond their plays per day, the same Idempotency-Key gives the
same answer, and every play is in the owner's audit."""

import secrets
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from lbs_service.o2o import games
from lbs_service.storage.db import Database
from lbs_service.storage.models import GamePrize
from tests.clock import T0, TIERS, WIDE, at
from tests.conftest import client_for
from tests.live import token
from tests.service.test_orders import auth, shop


def _prize_campaign(client, settings, store_id, title="Prize", **extra):
    created = client.post("/v1/campaigns", headers=auth(settings, "operator", "op"), json={
        "title": title, "level": "store", "store_ids": [store_id], **WIDE, **extra})
    assert created.status_code == 201, created.text
    return created.json()["id"]


def _game(client, settings, prizes, plays=3, who=None, **extra):
    body = {"title": "Lucky wheel", "kind": "wheel", **WIDE, "plays_per_user_per_day": plays, "prizes": prizes,
            **extra}
    created = client.post("/v1/games", headers=who or auth(settings, "operator", "op"), json=body)
    assert created.status_code == 201, created.text
    return created.json()["id"]


def test_pick_maps_each_draw_to_its_band_exactly():
    prizes = [GamePrize(id=1, odds_bp=2500), GamePrize(id=2, odds_bp=100), GamePrize(id=3, odds_bp=1)]
    won = Counter(getattr(games.pick(prizes, draw), "id", None) for draw in range(games.ODDS_SCALE))
    assert won == {1: 2500, 2: 100, 3: 1, None: 10_000 - 2601}  # the stated odds, to the basis point


def test_the_draw_source_is_uniform_within_a_statistical_bound():
    """secrets.randbelow over 200,000 draws in 10 bins: a chi-square above 33.7 (p = 1e-4, 9 degrees of
    freedom) would say the source is not uniform."""
    bins = Counter(secrets.randbelow(games.ODDS_SCALE) // 1000 for _ in range(200_000))
    expected = 20_000
    chi2 = sum((bins[b] - expected) ** 2 / expected for b in range(10))
    assert chi2 < 33.7, chi2


def test_stated_odds_hold_over_many_real_plays(sqlite_settings):
    """600 players, one play each, a 30 % prize with ample stock: the wins lie within 5 standard
    deviations of 180 (a false alarm once in millions of runs)."""
    with client_for(sqlite_settings) as client:
        (a, *_), _ = shop(sqlite_settings, client)
        game = _game(client, sqlite_settings, [{"campaign_id": _prize_campaign(client, sqlite_settings, a),
                                                 "odds_bp": 3000, "stock": 10_000}], plays=1)
        db = Database(sqlite_settings)
        outcomes = Counter(games.play(db, game, f"p{n}", None, T0, TIERS).body["outcome"] for n in range(600))
        sd = (600 * 0.3 * 0.7) ** 0.5
        assert abs(outcomes["prize"] - 180) < 5 * sd, outcomes
        assert outcomes["prize"] + outcomes["none"] == 600


def test_a_play_wins_a_claimed_coupon_and_retries_answer_alike(sqlite_settings):
    with client_for(sqlite_settings) as client:
        (a, *_), _ = shop(sqlite_settings, client)
        campaign = _prize_campaign(client, sqlite_settings, a)
        game = _game(client, sqlite_settings, [{"campaign_id": campaign, "odds_bp": 10_000, "stock": 5}])
        user = {**auth(sqlite_settings, "user", "winner"), "Idempotency-Key": "spin-1"}
        first = client.post(f"/v1/games/{game}/plays", headers=user)
        assert first.status_code == 201, first.text
        won = first.json()
        assert won["outcome"] == "prize" and won["prize"]["campaign_id"] == campaign
        retry = client.post(f"/v1/games/{game}/plays", headers=user)
        assert retry.status_code == 201 and retry.json() == won
        coupons = client.get("/v1/users/me/coupons", headers=auth(sqlite_settings, "user", "winner")).json()
        assert [(c["id"], c["code"], c["status"]) for c in coupons] == [
            (won["prize"]["coupon"]["id"], won["prize"]["coupon"]["code"], "claimed")]
        held = client.post(f"/v1/games/{game}/plays", headers={**user, "Idempotency-Key": "spin-2"}).json()
        assert held["outcome"] == "held" and held["prize"] is None  # the coupon is theirs already
        audit = client.get(f"/v1/games/{game}/plays", headers=auth(sqlite_settings, "operator", "op")).json()
        assert audit["plays"] == 2 and audit["by_outcome"] == {"prize": 1, "none": 0, "out_of_stock": 0, "held": 1,
                                                               "not_eligible": 0}
        assert audit["prizes"][0]["left"] == 4


def test_stock_and_daily_plays_hold_under_concurrency(sqlite_settings):
    with client_for(sqlite_settings) as client:
        (a, *_), _ = shop(sqlite_settings, client)
        campaign = _prize_campaign(client, sqlite_settings, a)
        game = _game(client, sqlite_settings, [{"campaign_id": campaign, "odds_bp": 10_000, "stock": 7}], plays=2)

        def play(n):
            return client.post(f"/v1/games/{game}/plays", headers=auth(sqlite_settings, "user", f"u{n % 20}"))

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(play, range(60)))  # 20 players, 3 tries each, 2 allowed
        assert all(r.status_code in (201, 409) for r in answers)
        plays = [r.json() for r in answers if r.status_code == 201]
        assert len(plays) == 40  # 2 per player, no more
        assert sum(p["outcome"] == "prize" for p in plays) == 7  # the stock, exactly
        audit = client.get(f"/v1/games/{game}/plays", headers=auth(sqlite_settings, "operator", "op")).json()
        assert audit["prizes"][0]["won"] == 7 and audit["prizes"][0]["left"] == 0 and audit["plays"] == 40


def test_the_day_turns_in_the_games_time_zone(sqlite_settings):
    with client_for(sqlite_settings) as client:
        (a, *_), _ = shop(sqlite_settings, client)
        game = _game(client, sqlite_settings, [{"campaign_id": _prize_campaign(client, sqlite_settings, a),
                                                 "odds_bp": 1, "stock": 1}], plays=1)
        db = Database(sqlite_settings)
        late = at(11.5 * 3600)  # 23:30 in Shanghai
        assert games.play(db, game, "night", None, late, TIERS).status == 201
        assert games.play(db, game, "night", None, at(11.9 * 3600), TIERS).status == 409  # 23:54, same day
        assert games.play(db, game, "night", None, at(12.1 * 3600), TIERS).status == 201  # 00:06, a new day


def test_who_may_create_and_audit_games(sqlite_settings):
    with client_for(sqlite_settings) as client:
        (a, *_), _ = shop(sqlite_settings, client)
        merchant = client.get(f"/v1/stores/{a}").json()["properties"]["merchant_id"]
        own = _prize_campaign(client, sqlite_settings, a)
        platform = client.post("/v1/campaigns", headers=auth(sqlite_settings, "operator", "op"), json={
            "title": "Everyone", "level": "platform", **WIDE}).json()["id"]
        boss = {"Authorization": f"Bearer {token(sqlite_settings, 'merchant', 'boss', None, merchant)}"}
        rival = {"Authorization": f"Bearer {token(sqlite_settings, 'merchant', 'rival', None, merchant + 1)}"}
        prize = [{"campaign_id": own, "odds_bp": 100, "stock": 1}]
        with pytest.raises(AssertionError):
            _game(client, sqlite_settings, [{"campaign_id": platform, "odds_bp": 100, "stock": 1}], who=boss,
                  merchant_id=merchant)  # not its campaign
        with pytest.raises(AssertionError):
            _game(client, sqlite_settings, prize, who=rival, merchant_id=merchant + 1)
        game = _game(client, sqlite_settings, prize, who=boss, merchant_id=merchant, store_ids=[a])
        assert client.get(f"/v1/games/{game}/plays", headers=boss).status_code == 200
        assert client.get(f"/v1/games/{game}/plays", headers=rival).status_code == 404
        assert client.get(f"/v1/games/{game}/plays", headers=auth(sqlite_settings, "user", "u")).status_code == 404
        listed = client.get("/v1/games", params={"store_id": a}).json()
        assert [g["id"] for g in listed] == [game] and "stock" not in str(listed)


@pytest.mark.parametrize("change", [{"prizes": [{"campaign_id": 1, "odds_bp": 6000, "stock": 1},
                                                {"campaign_id": 2, "odds_bp": 5000, "stock": 1}]},
                                    {"kind": "slot"}, {"plays_per_user_per_day": 0},
                                    {"timezone": "Mars/Olympus"}, {"ends_at": "1999-01-01T00:00:00Z"},
                                    {"prizes": []}])
def test_bad_games_are_refused(sqlite_client, sqlite_settings, change):
    body = {"title": "x", "kind": "scratch", **WIDE, "plays_per_user_per_day": 1,
            "prizes": [{"campaign_id": 1, "odds_bp": 1, "stock": 1}], **change}
    answer = sqlite_client.post("/v1/games", headers=auth(sqlite_settings, "operator", "op"), json=body)
    assert answer.status_code == 422, answer.text
