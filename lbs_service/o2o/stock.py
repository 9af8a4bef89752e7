"""The catalogue of each merchant and the stock of each store: what can be ordered where."""

from dataclasses import asdict, dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from lbs_service.errors import Conflict, InvalidInput
from lbs_service.o2o.access import merchant_of_store
from lbs_service.responses import SkuPublic, StockLevel, StockRow
from lbs_service.storage.db import Database
from lbs_service.storage.models import Sku, Stock
from lbs_service.text_match import fold, words

MAX_WORDS = 8


@dataclass(frozen=True)
class NewSku:
    merchant_id: int
    code: str
    name: str
    price_cents: int


def sku_search_text(code: str, name: str) -> str:
    """What `find_skus` looks in: the code and the name, folded as what people type is."""
    return fold(f"{code}\n{name}")


def create_sku(db: Database, sku: NewSku) -> SkuPublic:
    try:
        with db.transaction() as session:
            row = Sku(**asdict(sku), search_text=sku_search_text(sku.code, sku.name))
            session.add(row)
            session.flush()
            return SkuPublic(id=row.id, **asdict(sku))
    except IntegrityError:
        raise Conflict(f"no merchant {sku.merchant_id}, or it already has sku {sku.code!r}") from None


def find_skus(db: Database, q: str, merchant_id: int | None, limit: int) -> list[SkuPublic]:
    """The catalogue entries whose code or name holds every word of `q` (folded as nearby's `q=`), by name."""
    wanted = list(dict.fromkeys(words(q)))
    if not wanted:
        raise InvalidInput("q must contain a word")
    if len(wanted) > MAX_WORDS:  # each word is a scan of the catalogue's text: a bounded number of them
        raise InvalidInput(f"q has at most {MAX_WORDS} different words")
    query = select(Sku).where(*(Sku.search_text.contains(word, autoescape=True) for word in wanted))
    if merchant_id is not None:
        query = query.where(Sku.merchant_id == merchant_id)
    with db.session() as session:
        rows = session.scalars(query.order_by(Sku.name, Sku.id).limit(limit)).all()
    return [SkuPublic(id=r.id, merchant_id=r.merchant_id, code=r.code, name=r.name, price_cents=r.price_cents)
            for r in rows]


def set_stock(db: Database, store_id: int, sku_id: int, quantity: int) -> StockLevel:
    """A store's count of a SKU of its own merchant."""
    merchant = merchant_of_store(db, store_id)
    with db.transaction() as session:
        sku = session.get(Sku, sku_id)
        if sku is None or sku.merchant_id != merchant:
            raise InvalidInput(f"store {store_id} does not sell sku {sku_id}")
        session.merge(Stock(store_id=store_id, sku_id=sku_id, quantity=quantity))
    return StockLevel(store_id=store_id, sku_id=sku_id, quantity=quantity)


def list_stock(db: Database, store_id: int) -> list[StockRow]:
    with db.session() as session:
        rows = session.execute(select(Stock.sku_id, Sku.code, Sku.name, Sku.price_cents, Stock.quantity)
                               .join(Sku, Sku.id == Stock.sku_id).where(Stock.store_id == store_id)
                               .order_by(Sku.code)).all()
    return [StockRow(sku_id=i, code=c, name=n, price_cents=p, quantity=q) for i, c, n, p, q in rows]


def stock_of(db: Database, sku_id: int) -> dict[int, int]:
    """store id -> quantity, for the stores holding at least one."""
    with db.session() as session:
        rows = session.execute(select(Stock.store_id, Stock.quantity).where(Stock.sku_id == sku_id,
                                                                           Stock.quantity > 0)).all()
    return {store_id: quantity for store_id, quantity in rows}
