"""`lbs demo`: a sample city (Nanjing) so a new user sees everything work: merchants, clustered
stores with hours, districts, running campaigns, and a catalogue with stock.

The city lives in `data/demo/` as files a person can open and copy - stores as CSV in the import
format (one file per merchant, named after it), districts as GeoJSON, campaigns and the catalogue
as JSON - and `lbs demo` loads them through the same import paths a real operator uses
(`lbs import stores`, `lbs import boundaries`). The files were written by `write_demo_files` from a
seeded generator (tests check they still match it): stores cluster like a real city, with dense
Gaussian cores at the commercial centres, district sub-centres, and a thin halo.
"""

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from geo_index import Datum
from lbs_service.analytics.demand import DemandRecorder
from lbs_service.auth import Principal
from lbs_service.csv_export import csv_writer
from lbs_service.importer.boundaries import import_boundaries
from lbs_service.importer.normalize import ImportOptions
from lbs_service.importer.run import import_stores
from lbs_service.o2o.games import NewGame, NewPrize
from lbs_service.o2o.games import create as create_game
from lbs_service.o2o.stock import sku_search_text
from lbs_service.storage.db import Database
from lbs_service.storage.models import Campaign, Game, Merchant, Sku, Stock, Store
from lbs_service.storage.stores import StoreRepository

# In a checkout: data/demo beside the packages; in the image: /app/data/demo (the working directory).
DEMO_DIRS = (Path(__file__).resolve().parents[1] / "data" / "demo", Path.cwd() / "data" / "demo")
STORE_COLUMNS = ("id", "name", "category", "address", "phone", "lat", "lng", "opens", "closes", "timezone",
                 "utilities")
UTILITY_SETS = ("water;electricity;gas", "water;electricity", "electricity;gas")  # what a pay point takes

# (name, lat, lng, spread in degrees, weight): WGS-84 centres of Nanjing's busy districts.
CENTRES = (
    ("Xinjiekou", 32.0416, 118.7784, 0.012, 0.22),
    ("Gulou", 32.0660, 118.7700, 0.015, 0.14),
    ("Hexi", 32.0050, 118.7250, 0.018, 0.13),
    ("Xianlin", 32.1100, 118.9200, 0.020, 0.09),
    ("Jiangning", 31.9520, 118.8400, 0.025, 0.13),
    ("Pukou", 32.0600, 118.6300, 0.025, 0.08),
    ("Maigaoqiao", 32.1020, 118.8230, 0.015, 0.06),
    ("Halo", 32.0500, 118.7900, 0.120, 0.15),
)


@dataclass(frozen=True)
class Chain:
    merchant: str
    category: str
    share: float
    opens: str
    closes: str
    prefix: str


CHAINS = (
    Chain("City Telecom", "telecom_hall", 0.15, "09:00", "21:00", "Telecom Hall"),
    Chain("Jinling Mart", "convenience", 0.40, "00:00", "24:00", "Jinling Mart"),
    Chain("Bean & Brew", "cafe", 0.20, "07:30", "22:00", "Bean & Brew"),
    Chain("Pay Point", "bill_payment", 0.15, "08:30", "18:00", "Pay Point"),
    Chain("Green Cross", "pharmacy", 0.10, "08:00", "23:00", "Green Cross Pharmacy"),
)


def demo_stores(count: int = 2400, seed: int = 20241) -> dict[str, list[dict[str, Any]]]:
    """Store rows per merchant, ready for StoreRepository.upsert_many."""
    rng = random.Random(seed)
    by_merchant: dict[str, list[dict[str, Any]]] = {c.merchant: [] for c in CHAINS}
    centre_weights = [c[4] for c in CENTRES]
    chain_weights = [c.share for c in CHAINS]
    for number in range(1, count + 1):
        area, lat0, lng0, spread, _ = rng.choices(CENTRES, centre_weights)[0]
        chain = rng.choices(CHAINS, chain_weights)[0]
        lat, lng = rng.gauss(lat0, spread), rng.gauss(lng0, spread)
        weekend_late = chain.closes if chain.closes in ("24:00",) else _later(chain.closes)
        hours = {d: [[chain.opens, chain.closes]] for d in ("mon", "tue", "wed", "thu", "fri")}
        hours |= {d: [[chain.opens, weekend_late]] for d in ("sat", "sun")}
        by_merchant[chain.merchant].append(
            {
                "source_id": f"NJ-{number:05d}",
                "name": f"{chain.prefix} {area} {number}",
                "category": chain.category,
                "address": f"{rng.randint(1, 999)} {area} Road, Nanjing",
                "phone": f"025 {rng.randint(5000_0000, 8999_9999)}",  # no leading "+": a spreadsheet reads a formula
                "hours": hours,
                "timezone": "Asia/Shanghai",
                "status": "open",
                "attributes": {"district": area, "demo": True,
                               **({"utilities": UTILITY_SETS[number % 3]} if chain.category == "bill_payment" else {})},
                "lat": round(lat, 6),
                "lng": round(lng, 6),
            }
        )
    return by_merchant


def _later(closes: str) -> str:
    hour = min(24, int(closes[:2]) + 1)
    return f"{hour:02d}:{closes[3:]}" if hour < 24 else "24:00"


CAMPAIGNS: tuple[dict[str, Any], ...] = (
    {"title": "City O2O week: 10% off at any outlet", "level": "platform", "merchant": None, "priority": 1,
     "offer": {"kind": "percent", "value": 10, "min_spend_cents": 2000}},
    {"title": "Free data top-up when you visit a telecom hall", "level": "merchant", "merchant": "City Telecom",
     "priority": 5},
    {"title": "Second coffee free", "level": "merchant", "merchant": "Bean & Brew", "priority": 3,
     "offer": {"kind": "amount", "value": 1800, "min_spend_cents": 3600}},
    {"title": "Masks 20% off for pharmacy regulars", "level": "merchant", "merchant": "Green Cross", "priority": 2,
     "offer": {"kind": "percent", "value": 20, "min_spend_cents": 0},
     "audience": {"visited": {"category": "pharmacy", "days": 30}}},
    {"title": "A coffee for 50 points", "level": "merchant", "merchant": "Bean & Brew", "priority": 0,
     "offer": {"kind": "amount", "value": 1800, "min_spend_cents": 0}, "points_price": 50},
    {"title": "Wheel prize: 5 yuan off at Jinling Mart", "level": "merchant", "merchant": "Jinling Mart",
     "priority": 0, "offer": {"kind": "amount", "value": 500, "min_spend_cents": 1500}},
)
GAMES: tuple[dict[str, Any], ...] = (
    {"title": "Jinling Mart lucky wheel", "kind": "wheel", "merchant": "Jinling Mart", "plays_per_user_per_day": 3,
     "prizes": [{"campaign": "Wheel prize: 5 yuan off at Jinling Mart", "odds_bp": 2000, "stock": 500}]},
    {"title": "City O2O week scratch card", "kind": "scratch", "merchant": None, "plays_per_user_per_day": 1,
     "prizes": [{"campaign": "City O2O week: 10% off at any outlet", "odds_bp": 3000, "stock": 1000},
                {"campaign": "Second coffee free", "odds_bp": 500, "stock": 100}]},
)
CATALOGUE = (
    # (merchant, code, name, price in cents, share of its stores that stock it)
    ("City Telecom", "CABLE-USBC", "USB-C charging cable", 3900, 0.6),
    ("City Telecom", "SIM-5G", "5G SIM card", 0, 0.9),
    ("Jinling Mart", "WATER-550", "Mineral water 550 ml", 200, 0.95),
    ("Green Cross", "MASK-10", "Face masks, pack of 10", 1500, 0.7),
)


def demo_district_features() -> list[dict[str, Any]]:
    """Nine rectangular districts over the demo city (invented: codes DEMO-1..9; real boundaries come
    from `lbs import boundaries`)."""
    south, west, north, east = 31.90, 118.58, 32.20, 119.00
    rows, cols = 3, 3
    features = []
    for r in range(rows):
        for c in range(cols):
            lat0, lng0 = south + (north - south) * r / rows, west + (east - west) * c / cols
            lat1, lng1 = lat0 + (north - south) / rows, lng0 + (east - west) / cols
            ring = [[round(x, 6), round(y, 6)] for x, y in
                    ((lng0, lat0), (lng1, lat0), (lng1, lat1), (lng0, lat1), (lng0, lat0))]
            number = r * cols + c + 1
            features.append({"type": "Feature", "properties": {
                "adcode": f"DEMO-{number}", "name": f"Demo district {number}", "city": "Nanjing (demo)"},
                "geometry": {"type": "Polygon", "coordinates": [ring]}})
    return features


# ---- the files -------------------------------------------------------------------------------
def write_demo_files(folder: Path, count: int = 2400, seed: int = 20241) -> None:
    """Write the demo city as files (what data/demo holds)."""
    (folder / "stores").mkdir(parents=True, exist_ok=True)
    for merchant, rows in demo_stores(count, seed).items():
        with (folder / "stores" / f"{merchant}.csv").open("w", newline="", encoding="utf-8") as out:
            writer = csv_writer(out, STORE_COLUMNS)
            for row in rows:
                opens, closes = row["hours"]["mon"][0]
                writer.writerow({"id": row["source_id"], "name": row["name"], "category": row["category"],
                                 "address": row["address"], "phone": row["phone"], "lat": row["lat"],
                                 "lng": row["lng"], "opens": opens, "closes": closes, "timezone": row["timezone"],
                                 "utilities": row["attributes"].get("utilities", "")})
    _write_json(folder / "districts.geojson", {"type": "FeatureCollection", "features": demo_district_features()})
    _write_json(folder / "campaigns.json", [{**campaign, "budget": 5000, "days": 30} for campaign in CAMPAIGNS])
    _write_json(folder / "games.json", [{**game, "days": 30} for game in GAMES])
    _write_json(folder / "catalogue.json", [
        {"merchant": merchant, "code": code, "name": name, "price_cents": price, "stocked_share": share}
        for merchant, code, name, price, share in CATALOGUE])


def _write_json(path: Path, document: Any) -> None:
    path.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def demo_data_dir() -> Path | None:
    return next((folder for folder in DEMO_DIRS if (folder / "stores").is_dir()), None)


# ---- loading them, as an operator would ------------------------------------------------------
@dataclass(frozen=True)
class DemoLoaded:
    stores: dict[str, tuple[int, int]]  # merchant -> (inserted, updated)
    rejected: int
    districts: int
    campaigns: int
    games: int
    stock_rows: int


def load_demo(db: Database, folder: Path, now: datetime, seed: int = 20241) -> DemoLoaded:
    """The demo city from its files: stores and districts through the import paths, then campaigns
    running for their days from `now`, and the catalogue with seeded stock."""
    repository = StoreRepository(db)
    options = ImportOptions(crs=Datum.WGS84, timezone="Asia/Shanghai", default_category="store")
    stores: dict[str, tuple[int, int]] = {}
    rejected = 0
    for path in sorted((folder / "stores").glob("*.csv")):
        summary = import_stores(path, repository, path.stem, options, {})
        stores[path.stem] = (summary.inserted, summary.updated)
        rejected += len(summary.rejected)
    districts = import_boundaries(db, folder / "districts.geojson", "adcode", Datum.WGS84)
    campaigns = _load_campaigns(db, json.loads((folder / "campaigns.json").read_text(encoding="utf-8")), now)
    games_path = folder / "games.json"
    games = _load_games(db, json.loads(games_path.read_text(encoding="utf-8")), now) if games_path.exists() else 0
    stock_rows = _load_catalogue(db, json.loads((folder / "catalogue.json").read_text(encoding="utf-8")), seed)
    return DemoLoaded(stores, rejected + len(districts.rejected), len(districts.imported), campaigns, games,
                      stock_rows)


def _load_campaigns(db: Database, campaigns: list[dict[str, Any]], now: datetime) -> int:
    added = 0
    with db.transaction() as session:
        merchants = dict(session.execute(select(Merchant.name, Merchant.id)).all())
        existing = set(session.scalars(select(Campaign.title)))
        for c in campaigns:
            if c["title"] in existing or (c["merchant"] and c["merchant"] not in merchants):
                continue
            session.add(Campaign(title=c["title"], level=c["level"], priority=c["priority"], budget=c["budget"],
                                 merchant_id=merchants.get(c["merchant"]) if c["merchant"] else None,
                                 starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=c["days"]),
                                 per_user_limit=1, claimed=0, created_by="demo", offer=c.get("offer"),
                                 audience=c.get("audience"), points_price=c.get("points_price")))
            added += 1
    return added


DEMO_OPERATOR = Principal("operator", "demo")  # who the demo's games are made by


def _load_games(db: Database, games: list[dict[str, Any]], now: datetime) -> int:
    """The demo's games, made as an operator makes them (o2o/games.py), their prizes named by campaign title."""
    with db.session() as session:
        merchants = dict(session.execute(select(Merchant.name, Merchant.id)).all())
        campaigns = dict(session.execute(select(Campaign.title, Campaign.id)).all())
        existing = set(session.scalars(select(Game.title)))
    added = 0
    for g in games:
        prizes = [(campaigns.get(p["campaign"]), p) for p in g["prizes"]]
        if g["title"] in existing or any(campaign is None for campaign, _ in prizes) or (
                g["merchant"] and g["merchant"] not in merchants):
            continue
        create_game(db, DEMO_OPERATOR, NewGame(
            title=g["title"], kind=g["kind"], starts_at=now - timedelta(hours=1),
            ends_at=now + timedelta(days=g["days"]), plays_per_user_per_day=g["plays_per_user_per_day"],
            merchant_id=merchants.get(g["merchant"]),
            prizes=tuple(NewPrize(campaign, p["odds_bp"], p["stock"]) for campaign, p in prizes if campaign)))
        added += 1
    return added


def _load_catalogue(db: Database, catalogue: list[dict[str, Any]], seed: int) -> int:
    rng = random.Random(seed)
    stocked = 0
    with db.transaction() as session:
        merchants = dict(session.execute(select(Merchant.name, Merchant.id)).all())
        for item in catalogue:
            merchant_id = merchants.get(item["merchant"])
            if merchant_id is None:
                continue
            sku = session.scalar(select(Sku).where(Sku.merchant_id == merchant_id, Sku.code == item["code"]))
            if sku is None:
                sku = Sku(merchant_id=merchant_id, code=item["code"], name=item["name"],
                          price_cents=item["price_cents"], search_text=sku_search_text(item["code"], item["name"]))
                session.add(sku)
                session.flush()
            for store_id in session.scalars(select(Store.id).where(Store.merchant_id == merchant_id)
                                            .order_by(Store.id)):
                if rng.random() < item["stocked_share"]:
                    session.merge(Stock(store_id=store_id, sku_id=sku.id, quantity=rng.randint(1, 40)))
                    stocked += 1
    return stocked


def demo_demand(db: Database, secret: str, now: datetime, users: int = 3000, seed: int = 20241) -> int:
    """Seeded sightings of synthetic users on the day of `now`, as the demand recorder keeps them."""
    rng = random.Random(seed)
    recorder = DemandRecorder(db, secret)
    hotspots = [(32.00, 118.90), (32.13, 118.70), (31.95, 118.62)] + [(c[1], c[2]) for c in CENTRES[:4]]
    for n in range(users):
        lat0, lng0 = rng.choice(hotspots)
        for _ in range(rng.randint(1, 4)):
            recorder.saw(f"demo-user-{n}", rng.gauss(lat0, 0.01), rng.gauss(lng0, 0.01), now)
    return recorder.flush()
