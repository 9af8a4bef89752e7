"""`lbs demo`: a generated sample city (Nanjing) so a new user sees everything work: merchants,
clustered stores with hours, running campaigns, and a catalogue with stock.

Stores cluster like a real city: dense Gaussian cores at the commercial centres, district
sub-centres, and a thin halo. The generator is seeded, so every demo is the same city.
"""

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime

    from lbs_service.storage.db import Database

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
                "phone": f"+86 25 {rng.randint(5000_0000, 8999_9999)}",
                "hours": hours,
                "timezone": "Asia/Shanghai",
                "status": "open",
                "attributes": {"district": area, "demo": True},
                "lat": round(lat, 6),
                "lng": round(lng, 6),
            }
        )
    return by_merchant


def _later(closes: str) -> str:
    hour = min(24, int(closes[:2]) + 1)
    return f"{hour:02d}:{closes[3:]}" if hour < 24 else "24:00"


CAMPAIGNS = (
    # (title, level, merchant or None, priority)
    ("City O2O week: 10% off at any outlet", "platform", None, 1),
    ("Free data top-up when you visit a telecom hall", "merchant", "City Telecom", 5),
    ("Second coffee free", "merchant", "Bean & Brew", 3),
)
CATALOGUE = (
    # (merchant, code, name, price in cents, share of its stores that stock it)
    ("City Telecom", "CABLE-USBC", "USB-C charging cable", 3900, 0.6),
    ("City Telecom", "SIM-5G", "5G SIM card", 0, 0.9),
    ("Jinling Mart", "WATER-550", "Mineral water 550 ml", 200, 0.95),
    ("Green Cross", "MASK-10", "Face masks, pack of 10", 1500, 0.7),
)


def demo_extras(db: "Database", now: "datetime", seed: int = 20241) -> tuple[int, int]:
    """Campaigns running for a month from `now`, and a catalogue with stock: returns (campaigns, stock rows)."""
    from datetime import timedelta

    from sqlalchemy import select

    from lbs_service.storage.models import Campaign, Merchant, Sku, Stock, Store

    rng = random.Random(seed)
    with db.transaction() as session:
        merchants = dict(session.execute(select(Merchant.name, Merchant.id)).all())
        existing = set(session.scalars(select(Campaign.title)))
        added = 0
        for title, level, merchant, priority in CAMPAIGNS:
            if title in existing or (merchant and merchant not in merchants):
                continue
            session.add(Campaign(title=title, level=level, merchant_id=merchants.get(merchant) if merchant else None,
                                 starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=30), budget=5000,
                                 per_user_limit=1, priority=priority, claimed=0, created_by="demo"))
            added += 1
        stocked = 0
        for merchant, code, name, price, share in CATALOGUE:
            if merchant not in merchants:
                continue
            sku = session.scalar(select(Sku).where(Sku.merchant_id == merchants[merchant], Sku.code == code))
            if sku is None:
                sku = Sku(merchant_id=merchants[merchant], code=code, name=name, price_cents=price)
                session.add(sku)
                session.flush()
            for store_id in session.scalars(select(Store.id).where(Store.merchant_id == merchants[merchant])):
                if rng.random() < share:
                    session.merge(Stock(store_id=store_id, sku_id=sku.id, quantity=rng.randint(1, 40)))
                    stocked += 1
    return added, stocked


def demo_districts(db: "Database") -> int:
    """Nine rectangular demo districts over the demo city, so the planner has something to show.

    Invented for the demo (codes DEMO-1..9): real boundaries come from `lbs import boundaries`.
    """
    from shapely.geometry import box, mapping

    from lbs_service.storage.models import District

    south, west, north, east = 31.90, 118.58, 32.20, 119.00
    rows, cols = 3, 3
    with db.transaction() as session:
        for r in range(rows):
            for c in range(cols):
                lat0 = south + (north - south) * r / rows
                lng0 = west + (east - west) * c / cols
                cell = box(lng0, lat0, lng0 + (east - west) / cols, lat0 + (north - south) / rows)
                number = r * cols + c + 1
                session.merge(District(code=f"DEMO-{number}", name=f"Demo district {number}", city="Nanjing (demo)",
                                       geometry=mapping(cell)))
    return rows * cols


def demo_demand(db: "Database", secret: str, now: "datetime", users: int = 3000, seed: int = 20241) -> int:
    """Seeded sightings of synthetic users on the day of `now`, as the demand recorder keeps them."""
    from lbs_service.analytics.demand import DemandRecorder

    rng = random.Random(seed)
    recorder = DemandRecorder(db, secret)
    hotspots = [(32.00, 118.90), (32.13, 118.70), (31.95, 118.62)] + [(c[1], c[2]) for c in CENTRES[:4]]
    for n in range(users):
        lat0, lng0 = rng.choice(hotspots)
        for _ in range(rng.randint(1, 4)):
            recorder.saw(f"demo-user-{n}", rng.gauss(lat0, 0.01), rng.gauss(lng0, 0.01), now)
    return recorder.flush()
