"""Signed bearer tokens (HS256 JWT, algorithm pinned; exp, iss and aud checked) and roles."""

import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

import jwt

from lbs_service.errors import Forbidden, Unauthorized
from lbs_service.settings import SigningSettings

Role = Literal["user", "staff", "merchant", "operator"]
ROLES: tuple[Role, ...] = ("user", "staff", "merchant", "operator")
_ALGORITHM = "HS256"
MAX_SUBJECT = 200  # user ids are stored in 200-character columns


def valid_subject(subject: object) -> bool:
    """A subject we can store and log: 1..200 printable characters (so no NUL)."""
    return isinstance(subject, str) and 0 < len(subject) <= MAX_SUBJECT and subject.isprintable()


def check_subject(subject: str) -> str:
    if not valid_subject(subject):
        raise ValueError(f"a subject is 1 to {MAX_SUBJECT} printable characters")
    return subject


@dataclass(frozen=True)
class Principal:
    role: Role
    subject: str
    store_id: int | None = None  # staff tokens are scoped to one store
    merchant_id: int | None = None
    issued_at: int | None = None  # the token's iat, for revocation (revocations.py)


def mint_token(settings: SigningSettings, principal: Principal, ttl_s: int | None = None) -> str:
    check_subject(principal.subject)
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": principal.subject,
        "role": principal.role,
        "iss": settings.token_issuer,
        "aud": settings.token_audience,
        "iat": now,
        "exp": now + (ttl_s if ttl_s is not None else settings.token_ttl_s),
        "jti": uuid.uuid4().hex,
    }
    if principal.store_id is not None:
        claims["store_id"] = principal.store_id
    if principal.merchant_id is not None:
        claims["merchant_id"] = principal.merchant_id
    return jwt.encode(claims, settings.secret_key, algorithm=_ALGORITHM)


_VERIFIED_MAX = 10_000
# (key, iss, aud, token) -> (who, exp), oldest first
_verified: OrderedDict[tuple[str, str, str, str], tuple[Principal, int]] = OrderedDict()
_verified_lock = threading.Lock()


def read_token(settings: SigningSettings, token: str) -> Principal:
    """Who the token speaks for, or Unauthorized.

    A client sends the same token with every request, and verifying one cost more than a nearby
    search (about 60 µs): a verified token is remembered until its `exp`, checked on every use
    (revocation is checked by the caller, every time). Bounded: the oldest go first.
    """
    key = (settings.secret_key, settings.token_issuer, settings.token_audience, token)
    held = _verified.get(key)
    if held is not None:
        principal, expires = held
        if time.time() < expires:
            return principal
        with _verified_lock:
            _verified.pop(key, None)
        raise Unauthorized("invalid token: Signature has expired")
    principal, expires = _verify(settings, token)
    with _verified_lock:
        if len(_verified) >= _VERIFIED_MAX:
            _verified.popitem(last=False)
        _verified[key] = (principal, expires)
    return principal


def _verify(settings: SigningSettings, token: str) -> tuple[Principal, int]:
    try:
        claims = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[_ALGORITHM],
            audience=settings.token_audience,
            issuer=settings.token_issuer,
            options={"require": ["exp", "iss", "aud", "sub", "iat"]},
        )
    except jwt.PyJWTError as error:
        raise Unauthorized(f"invalid token: {error}") from None
    role = claims.get("role")
    if role not in ROLES:
        raise Unauthorized("invalid token: unknown role")
    store_id = claims.get("store_id")
    merchant_id = claims.get("merchant_id")
    subject = claims["sub"]
    if not valid_subject(subject):
        raise Unauthorized(f"invalid token: the subject is 1 to {MAX_SUBJECT} printable characters")
    if role == "staff" and not _is_id(store_id):
        raise Unauthorized("invalid token: a staff token names its store")
    if role == "merchant" and not _is_id(merchant_id):
        raise Unauthorized("invalid token: a merchant token names its merchant")
    issued_at = claims.get("iat")
    principal = Principal(role, subject, store_id if _is_id(store_id) else None,
                          merchant_id if _is_id(merchant_id) else None,
                          issued_at if isinstance(issued_at, int) else None)
    return principal, int(claims["exp"])


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 2**63 - 1


def require_role(principal: Principal, *roles: Role) -> Principal:
    if principal.role not in roles:
        raise Forbidden(f"this needs a {' or '.join(roles)} token")
    return principal
