"""Every error leaves as RFC 9457 problem+json; one table maps domain errors to status codes."""

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from geo_index import CoordinateError, UnknownDatum
from lbs_service.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound, Unauthorized
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
}


def problem(status: int, title: str, detail: str, **extra: Any) -> Response:
    body = {"type": "about:blank", "status": status, "title": title, "detail": detail, **extra}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return Response(orjson.dumps(body), status_code=status, media_type="application/problem+json", headers=headers)


def _status_for(error: Exception) -> int:
    for kind, status in STATUS_BY_ERROR.items():
        if isinstance(error, kind):
            return status
    return 500


async def _domain_error(_: Request, error: Exception) -> Response:
    status = _status_for(error)
    title = error.title if isinstance(error, DomainError) else type(error).__name__
    return problem(status, title, str(error))


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
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
