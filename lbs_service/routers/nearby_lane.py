"""The fast lane for the finder's hot read: GET /v1/stores/nearby answered in front of the framework
(its middleware, routing, dependency resolution and parameter parsing cost more than the search
itself; profile in BENCHMARKS.md). It wraps the whole application, so it logs and counts its own
answers as the access log does.

It validates with the route's own parameter declarations (params.py) through one compiled pydantic
model, and takes only what it can answer exactly as the route would: the in-memory engine, no SKU
filter, each parameter at most once, a bearer token or none, no body, no cross-origin request (CORS
is the framework's). Anything else - an invalid or unknown
parameter, `engine=postgis`, `sku=`, a bad or revoked token, a rate limit reached - goes on to the
route untouched, which answers it (and its error) as documented. The token's rate is counted only
once everything else is checked, and nothing is recorded before the answer, so a request handed on
is not counted twice (short of a fault in the lane itself, which is logged).
"""

import logging
import time
from typing import Literal
from urllib.parse import unquote_plus

from fastapi.security.utils import get_authorization_scheme_param
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.datastructures import State
from starlette.types import ASGIApp, Receive, Scope, Send

from geo_index import parse_datum
from lbs_service.access_log import begin_request, log_request
from lbs_service.auth import Principal
from lbs_service.deps import principal_of
from lbs_service.errors import DomainError
from lbs_service.finder import (
    NearbyAsk,
    answer_body,
    cursor_after,
    next_href,
    note_unmet_demand,
    read_cursor,
    search_memory,
)
from lbs_service.geojson import GEOJSON
from lbs_service.routers.params import (
    CategoryQuery,
    CrsQuery,
    CursorQuery,
    LatQuery,
    LimitQuery,
    LngQuery,
    OpenNowQuery,
    RadiusQuery,
)
from lbs_service.services import Services

log = logging.getLogger(__name__)

PATH = "/v1/stores/nearby"
_HEADERS = [(b"content-type", GEOJSON.encode())]


class _LaneParams(BaseModel):
    """The parameters the lane answers; an unknown one (sku, a typo) sends the request on."""

    model_config = ConfigDict(extra="forbid")
    lat: LatQuery
    lng: LngQuery
    radius_m: RadiusQuery = 1000
    limit: LimitQuery = 20
    category: CategoryQuery = None
    open_now: OpenNowQuery = None
    crs: CrsQuery = "wgs84"
    engine: Literal["memory"] = "memory"
    cursor: CursorQuery = None


class NearbyLane:
    """ASGI middleware: answers the common nearby question itself, hands everything else on."""

    def __init__(self, app: ASGIApp, state: State, cors: bool = False) -> None:
        self.app, self.state = app, state
        # With CORS configured, the framework marks every answer `Vary: Origin` (a shared cache must
        # not hand this answer to a cross-origin page): so does the lane.
        self.headers = [*_HEADERS, (b"vary", b"Origin")] if cors else _HEADERS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "GET" or _framework_needed(scope):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            body = await self._answer(scope)
        except Exception as fault:  # a fault of the lane: the route answers (or reports) it
            log.error("nearby fast lane failed (%s); the route answers", type(fault).__name__)  # no query: positions
            body = None
        if body is None:
            await self.app(scope, receive, send)
            return
        request_id = begin_request()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [*self.headers, (b"content-length", str(len(body)).encode()),
                                (b"x-request-id", request_id.encode())]})
        await send({"type": "http.response.body", "body": body})
        log_request("GET", PATH, 200, started, request_id)

    async def _answer(self, scope: Scope) -> bytes | None:
        sent = scope["query_string"].decode("latin-1")
        raw = _query(sent)
        if raw is None:
            return None
        try:
            params = _LaneParams.model_validate(raw)
        except ValidationError:
            return None
        services: Services = self.state.services
        now = services.clock()
        try:  # the search first: whatever it refuses (a datum pushed off the map...) is the route's 4xx
            ask = NearbyAsk(params.lat, params.lng, params.radius_m, params.limit, params.category,
                            bool(params.open_now), parse_datum(params.crs), None, read_cursor(params.cursor))
            found = search_memory(services.catalog, ask, now)
        except (DomainError, ValueError):
            return None
        try:  # the caller last: the token's rate is counted only for a request the lane answers
            principal = await self._principal(services, scope)
        except DomainError:
            return None
        if principal is False:
            return None
        user = principal.subject if principal is not None and principal.role == "user" else None
        note_unmet_demand(services.demand, user, ask, found.matched, now)
        after = cursor_after(found)
        link = None if after is None else next_href(PATH, list(raw.items()), after, sent)
        return answer_body(found, ask.datum, now, link)

    @staticmethod
    async def _principal(services: Services, scope: Scope) -> Principal | Literal[False] | None:
        """The caller, None when anonymous, False when the header is not a bearer token (the route's
        own security scheme decides what that means)."""
        authorization = [value for name, value in scope["headers"] if name == b"authorization"]
        if not authorization:
            return None
        scheme, credential = get_authorization_scheme_param(authorization[0].decode("latin-1"))
        if len(authorization) > 1 or scheme.lower() != "bearer" or not credential:
            return False
        return await principal_of(services, credential)


def _query(query_string: str) -> dict[str, str] | None:
    """The parameters, decoded as the framework decodes them; None when one is repeated (the route's
    rules decide which one counts)."""
    params: dict[str, str] = {}
    for part in query_string.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        if "%" in part or "+" in part:
            name, value = unquote_plus(name), unquote_plus(value)
        if name in params:
            return None
        params[name] = value
    return params


def _framework_needed(scope: Scope) -> bool:
    """A request body (the body limit's 413) or an Origin (CORS) is the framework's to handle."""
    return any(name in (b"content-length", b"transfer-encoding", b"origin") for name, _ in scope["headers"])
