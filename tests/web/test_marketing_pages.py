"""The marketing tools in a real browser: a store's card on the finder shows what an offer is worth,
the bills an outlet takes, and a wheel or a scratch card that reveals the server's draw; the merchant
page draws a campaign's funnel with small counts withheld."""

from datetime import timedelta

import httpx
from sqlalchemy import select

from lbs_service.storage.db import Database
from lbs_service.storage.models import Campaign, Game, GamePrize, Store
from lbs_service.storage.stores import StoreRepository
from tests.clock import T0
from tests.live import live_server, token
from tests.service.test_funnel import _seed as seed_funnel
from tests.web.conftest import open_page, screenshot

ALWAYS = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def _store(source_id, lat, lng, category="convenience", attributes=None):
    return {"source_id": source_id, "name": f"Shop {source_id}", "category": category, "hours": ALWAYS,
            "timezone": "Asia/Shanghai", "status": "open", "attributes": attributes or {}, "lat": lat, "lng": lng,
            "address": None, "phone": None}


def _world(settings, kind):
    db = Database(settings)
    StoreRepository(db).upsert_many("Mart", [_store("M1", 32.05, 118.78)])
    StoreRepository(db).upsert_many("Pay", [_store("P1", 32.0503, 118.7803, "bill_payment",
                                                   {"utilities": "water;electricity"})])
    with db.transaction() as session:
        window = {"starts_at": T0 - timedelta(hours=1), "ends_at": T0 + timedelta(days=1), "per_user_limit": 1,
                  "priority": 0, "claimed": 0, "created_by": "t"}
        prize = Campaign(title="Wheel prize", level="platform", offer={"kind": "amount", "value": 500,
                                                                        "min_spend_cents": 1500}, **window)
        session.add(prize)
        session.flush()
        game = Game(title="Lucky draw", kind=kind, starts_at=window["starts_at"], ends_at=window["ends_at"],
                    plays_per_user_per_day=3, timezone="Asia/Shanghai", created_by="t")
        session.add(game)
        session.flush()
        session.add(GamePrize(game_id=game.id, campaign_id=prize.id, odds_bp=10_000, stock=5, won=0))
        return prize.id, game.id


def _open_card(page, source_id, host):
    page.wait_for_selector("body[data-map-ready=true]", timeout=10000)
    page.click("[data-testid=locate]")
    page.wait_for_selector("[data-testid=store-item]", timeout=5000)
    stores = httpx.get(f"http://{host}/v1/stores/nearby", params={"lat": 32.05, "lng": 118.78}).json()["features"]
    store_id = next(f["id"] for f in stores if f["properties"]["source_id"] == source_id)
    item = page.locator(f"[data-testid=store-item][data-store-id='{store_id}']")
    return item


def test_a_wheel_comes_to_rest_on_the_servers_draw(sqlite_settings, browser):
    prize, game = _world(sqlite_settings, "wheel")
    with live_server(sqlite_settings) as host:
        page = open_page(browser, host, f"/?token={token(sqlite_settings, 'user', 'spinner')}", clock=T0,
                         geolocation={"latitude": 32.05, "longitude": 118.78}, permissions=["geolocation"])
        pay = _open_card(page, "P1", host)
        assert pay.locator("[data-testid=utilities]").inner_text() == "Pay your bills here: water, electricity"
        nearby = page.locator("[data-testid=games-nearby] [data-testid=game]")
        nearby.wait_for(timeout=5000)  # seen above the list, before any store is opened
        assert nearby.count() == 1 and nearby.get_attribute("data-game-id") == str(game)
        item = _open_card(page, "M1", host)
        item.click()
        card = item.locator("[data-testid=game]")
        card.wait_for(timeout=5000)
        assert "¥5.00 off when you spend ¥15.00" in item.locator("[data-testid=offer-value]").first.inner_text()
        card.locator("[data-testid=play]").click()
        result = card.locator("[data-testid=game-result]")
        result.filter(has_text="You won").wait_for(timeout=10000)
        assert card.locator("[data-testid=wheel]").get_attribute("data-rests-on") == str(prize)
        turned = card.locator("[data-testid=wheel]").evaluate("disc => disc.style.transform")
        assert turned.startswith("rotate(")
        code = result.inner_text().rsplit(" ", 1)[-1]
        coupons = httpx.get(f"http://{host}/v1/users/me/coupons",
                            headers={"Authorization": f"Bearer {token(sqlite_settings, 'user', 'spinner')}"}).json()
        assert [(c["campaign_id"], c["code"]) for c in coupons] == [(prize, code)]  # the page showed the server's prize
        card.locator("[data-testid=coupon-qr]").wait_for(timeout=5000)
        screenshot(page, "finder-wheel")
        audit = httpx.get(f"http://{host}/v1/games/{game}/plays",
                          headers={"Authorization": f"Bearer {token(sqlite_settings, 'operator', 'op')}"}).json()
        assert audit["plays"] == 1 and audit["by_outcome"]["prize"] == 1
        assert page.foreign == []


def test_a_scratch_card_reveals_without_motion_too(sqlite_settings, browser):
    _world(sqlite_settings, "scratch")
    with live_server(sqlite_settings) as host:
        page = open_page(browser, host, f"/?token={token(sqlite_settings, 'user', 'scratcher')}", clock=T0,
                         geolocation={"latitude": 32.05, "longitude": 118.78}, permissions=["geolocation"],
                         reduced_motion="reduce")
        item = _open_card(page, "M1", host)
        item.click()
        card = item.locator("[data-testid=game]")
        card.wait_for(timeout=5000)
        card.locator("[data-testid=play]").click()
        card.locator("[data-testid=game-result]").filter(has_text="You won").wait_for(timeout=5000)
        assert card.locator("[data-testid=scratch]").get_attribute("data-revealed") == "prize"
        card.locator("[data-testid=play]").click()  # the prize is held now: the second draw wins nothing new
        card.locator("[data-testid=game-result]").filter(has_text="already hold").wait_for(timeout=5000)
        assert card.get_attribute("data-outcome") == "held"
        assert page.foreign == []


def test_merchant_page_draws_the_funnel_with_small_counts_withheld(sqlite_settings, browser):
    db = Database(sqlite_settings)
    StoreRepository(db).upsert_many("Mart", [_store(f"F{n}", 32.05 + n / 1000, 118.78) for n in range(3)])
    with db.transaction() as session:
        stores = sorted(session.scalars(select(Store.id)))
        campaign = Campaign(title="Funnel week", level="store", store_ids=stores[:2], starts_at=T0 - timedelta(days=1),
                            ends_at=T0 + timedelta(days=3), per_user_limit=1, priority=0, claimed=0, created_by="t")
        session.add(campaign)
        session.flush()
        campaign_id = campaign.id
    seed_funnel(sqlite_settings, campaign_id, *stores)
    with live_server(sqlite_settings) as host:
        page = open_page(browser, host, f"/merchant?token={token(sqlite_settings, 'operator', 'op')}"
                         f"&campaign={campaign_id}", clock=T0)
        page.locator("[data-testid=count-sent]").filter(has_text="9").wait_for(timeout=5000)
        assert page.locator("[data-testid=count-arrived]").inner_text() == f"7 · {round(7 / 9 * 100)}%"
        assert page.locator("[data-testid=count-ordered]").inner_text() == "–"
        rows = page.locator("[data-testid=by-store] tbody tr")
        assert rows.count() == 2 and rows.nth(0).locator("td").nth(4).inner_text() == "5"  # store a's redeemed
        assert rows.nth(0).locator("td").nth(1).inner_text() == "–"  # withheld: 9 less it would give store b's 2
        screenshot(page, "merchant-funnel")
        assert page.foreign == []
