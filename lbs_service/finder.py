"""Nearby search as the API answers it: what was asked, in which datum, with which filters, and the
GeoJSON body, written once here for the framework route and for the fast lane alike."""

import base64
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from geo_index import Datum, convert
from lbs_service.analytics.demand import DemandRecorder
from lbs_service.catalog import StoreCatalog
from lbs_service.errors import InvalidInput
from lbs_service.geojson import FeatureWriter
from lbs_service.records import StoreRecord
from lbs_service.text_match import matches, words

FEATURES = FeatureWriter()
_CURSOR = re.compile(r"[A-Za-z0-9_-]{1,100}")  # base64url without padding, as cursor_after writes it
_CURSOR_TEXT = re.compile(r"(\d+(?:\.\d+)?(?:e[+-]\d+)?):(\d{1,19})")  # repr of metres, then the id
_URL_SAFE = re.compile(r"[A-Za-z0-9_.~-]*")  # what urlencode leaves as it is
_PLAIN_QUERY = re.compile(r"[A-Za-z0-9_.~-]+=[A-Za-z0-9_.~-]*(?:&[A-Za-z0-9_.~-]+=[A-Za-z0-9_.~-]*)*")


@dataclass(frozen=True)
class NearbyAsk:
    """A validated nearby question (the HTTP layer checked the bounds)."""

    lat: float
    lng: float
    radius_m: float
    limit: int
    category: str | None
    open_now: bool
    datum: Datum
    q: str | None = None  # words to find in the name, category or address (text_match.py)
    after: tuple[float, int] | None = None  # a page's start: after this (metres, store id), see read_cursor


@dataclass(frozen=True)
class Found:
    """One page of a nearby answer: (store, metres) nearest first, how many matched in all, and
    whether stores follow this page."""

    page: list[tuple[StoreRecord, float]]
    matched: int
    more: bool

    @classmethod
    def of(cls, candidates: list[tuple[StoreRecord, float]], matched: int, limit: int) -> "Found":
        """From up to limit + 1 candidates: the one past the limit only says that more follow."""
        return cls(candidates[:limit], matched, len(candidates) > limit)


def cursor_after(found: Found) -> str | None:
    """The cursor of the page after this one (None on the last page): the last store's (metres, id)."""
    if not found.more:
        return None
    record, distance = found.page[-1]
    return base64.urlsafe_b64encode(f"{distance!r}:{record.id}".encode()).decode().rstrip("=")


def read_cursor(cursor: str | None) -> tuple[float, int] | None:
    """The (metres, id) a cursor continues after; a cursor this service did not write is a 422."""
    if cursor is None:
        return None
    refused = InvalidInput("cursor is not one this service gave (take it from a next link)")
    if not _CURSOR.fullmatch(cursor):
        raise refused
    try:
        text = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode("ascii")
    except ValueError:
        raise refused from None
    written = _CURSOR_TEXT.fullmatch(text)
    if written is None or not math.isfinite(float(written[1])):
        raise refused
    return float(written[1]), int(written[2])


def next_href(path: str, params: list[tuple[str, str]], cursor: str, sent: str | None = None) -> str:
    """The same question, continued after `cursor` (a link relative to the server). `sent`: the query
    string `params` were read from, if the caller has it: when it needs no quoting and names no
    cursor, the link is that string and the cursor (the same link, without re-encoding every pair)."""
    if sent is not None and _PLAIN_QUERY.fullmatch(sent) and not sent.startswith("cursor=") and "&cursor=" not in sent:
        return f"{path}?{sent}&cursor={cursor}"
    pairs = [(k, v) for k, v in params if k != "cursor"] + [("cursor", cursor)]
    if all(_URL_SAFE.fullmatch(k) and _URL_SAFE.fullmatch(v) for k, v in pairs):  # the usual link: nothing to quote
        return f"{path}?{'&'.join(f'{k}={v}' for k, v in pairs)}"
    return f"{path}?{urlencode(pairs)}"


def categories_asked(raw: str | None, known: list[str]) -> list[str] | None:
    """The categories asked for; an unknown one is a 422 that lists the known ones (a typo must not
    look like "no stores here")."""
    if raw is None:
        return None
    names = list(dict.fromkeys(c.strip() for c in raw.split(",") if c.strip()))  # each once, in the order asked
    if not names:
        raise InvalidInput("category must name at least one category")
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise InvalidInput(f"unknown category {', '.join(unknown)}; known: {', '.join(known) or 'none yet'}")
    return names


def in_wgs84(ask: NearbyAsk) -> tuple[float, float]:
    return convert(ask.lat, ask.lng, ask.datum, Datum.WGS84)


def query_words(q: str | None) -> list[str] | None:
    """The words of `q=`; a query of nothing but spaces is a 422, not "every store"."""
    if q is None:
        return None
    found = words(q)
    if not found:
        raise InvalidInput("q must contain a word")
    return found


def store_filter(open_at: datetime | None, in_stock: dict[int, int] | None,
                 text: list[str] | None = None) -> Callable[[StoreRecord], bool] | None:
    """The extra conditions a store must meet, or None when there are none (the fast path). The same
    predicate filters both engines' candidates, so they agree on every match."""
    if open_at is None and in_stock is None and text is None:
        return None

    def keep(record: StoreRecord) -> bool:
        return ((open_at is None or record.open_at(open_at)) and (in_stock is None or record.id in in_stock)
                and (text is None or matches(text, record.name, record.category, record.address)))

    return keep


def search_memory(catalog: StoreCatalog, ask: NearbyAsk, now: datetime, in_stock: dict[int, int] | None = None
                  ) -> Found:
    """The worker's exact in-memory search: one page of `limit` stores, and how many matched in all."""
    categories = categories_asked(ask.category, catalog.categories())
    keep = store_filter(now if ask.open_now else None, in_stock, query_words(ask.q))
    lat, lng = in_wgs84(ask)
    return Found.of(*catalog.nearby(lat, lng, ask.radius_m, ask.limit + 1, categories, keep, ask.after), ask.limit)


def note_unmet_demand(demand: DemandRecorder, user: str | None, ask: NearbyAsk, matched: int, now: datetime) -> None:
    """A signed-in user's search that found nothing is demand nobody serves (the planner's gaps)."""
    if matched == 0 and user is not None:
        lat, lng = in_wgs84(ask)
        demand.saw(user, lat, lng, now)


def answer_body(found: Found, datum: Datum, now: datetime, next_link: str | None,
                in_stock: dict[int, int] | None = None) -> bytes:
    """The FeatureCollection: stores nearest first, positions in the asked datum, and a `next` link
    when more follow."""
    return FEATURES.collection(found.page, found.matched, datum, now, in_stock, next_link)
