"""Every error leaves as RFC 9457 problem+json; one table maps domain errors to status codes."""

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from geo_index import CoordinateError, UnknownDatum
from lbs_service.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    TooManyRequests,
    Unauthorized,
    Unavailable,
)
from lbs_service.hours import HoursError

log = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[Exception], int] = {
    NotFound: 404,
    Conflict: 409,
    InvalidInput: 422,
    Forbidden: 403,
    Unauthorized: 401,
    CoordinateError: 422,
    UnknownDatum: 422,
    HoursError: 422,
    TooManyRequests: 429,
    Unavailable: 503,
}
OUTAGE_RETRY_AFTER_S = 5


def outage_errors() -> tuple[type[Exception], ...]:
    """Errors that mean PostgreSQL or Redis is out of reach (not that the request was wrong): 503."""
    from redis.exceptions import ClusterDownError, MasterDownError, RedisClusterException, TryAgainError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeout
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    return (RedisConnectionError, RedisTimeout, ClusterDownError, MasterDownError, TryAgainError,
            RedisClusterException, PoolTimeout, DBAPIError)


def problem(status: int, title: str, detail: str, retry_after_s: int | None = None, **extra: Any) -> Response:
    body = {"type": "about:blank", "status": status, "title": title, "detail": detail, **extra}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if retry_after_s is not None:
        headers["Retry-After"] = str(retry_after_s)
    return Response(orjson.dumps(body), status_code=status, media_type="application/problem+json", headers=headers)


def status_for(error: Exception) -> int:
    for kind, status in STATUS_BY_ERROR.items():
        if isinstance(error, kind):
            return status
    return 500


async def _domain_error(_: Request, error: Exception) -> Response:
    status = status_for(error)
    title = error.title if isinstance(error, DomainError) else type(error).__name__
    retry_after = error.retry_after_s if isinstance(error, TooManyRequests | Unavailable) else None
    return problem(status, title, str(error), retry_after)


async def _outage(request: Request, error: Exception) -> Response:
    from sqlalchemy.exc import DBAPIError

    if isinstance(error, DBAPIError) and not error.connection_invalidated and not _is_connection_error(error):
        return await _unexpected(request, error)  # a query that failed on a live database is a bug, not an outage
    log.warning("backing service unavailable on %s %s: %s", request.method, request.url.path,
                type(error).__name__)
    return problem(503, "Service unavailable", "a backing service is unreachable; nothing was done, try again",
                   OUTAGE_RETRY_AFTER_S)


def _is_connection_error(error: Exception) -> bool:
    import psycopg

    original = getattr(error, "orig", None)
    return isinstance(original, psycopg.OperationalError | psycopg.InterfaceError)


async def _validation_error(_: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    errors = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in error.errors()
    ]
    detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors) or "invalid request"
    return problem(422, "Invalid request", detail, errors=errors)


async def _http_error(_: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    return problem(error.status_code, str(error.detail), str(error.detail))


async def _unexpected(request: Request, error: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(500, "Internal Server Error", "the server failed; the error was logged")


def install(app: FastAPI) -> None:
    for kind in STATUS_BY_ERROR:
        app.add_exception_handler(kind, _domain_error)
    for kind in outage_errors():
        app.add_exception_handler(kind, _outage)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "status", "title", "detail"],
    "properties": {"type": {"type": "string"}, "status": {"type": "integer"}, "title": {"type": "string"},
                   "detail": {"type": "string"}, "errors": {"type": "array", "items": {"type": "object"}}},
}
_DOCUMENTED = {401: "no or bad bearer token", 403: "the token may not do this", 404: "no such resource",
               409: "conflicts with the resource's state", 413: "request body over 64 KiB",
               422: "invalid input", 429: "rate limited (Retry-After)",
               503: "a backing service is unreachable (Retry-After)"}


def documented_responses() -> dict[int | str, dict[str, Any]]:
    """The errors any route may answer, as problem+json, for the OpenAPI document (and its fuzzers)."""
    return {status: {"description": text, "content": {"application/problem+json": {"schema": PROBLEM_SCHEMA}}}
            for status, text in _DOCUMENTED.items()}
