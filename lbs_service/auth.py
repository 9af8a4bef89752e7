"""Signed bearer tokens (HS256 JWT, algorithm pinned; exp, iss and aud checked) and roles."""

import time
import uuid
from dataclasses import dataclass
from typing import Literal

import jwt

from lbs_service.errors import Forbidden, Unauthorized
from lbs_service.settings import Settings

Role = Literal["user", "staff", "merchant", "operator"]
ROLES: tuple[Role, ...] = ("user", "staff", "merchant", "operator")
_ALGORITHM = "HS256"


@dataclass(frozen=True)
class Principal:
    role: Role
    subject: str
    store_id: int | None = None  # staff tokens are scoped to one store
    merchant_id: int | None = None
    issued_at: int | None = None  # the token's iat, for revocation (revocations.py)


def mint_token(settings: Settings, principal: Principal, ttl_s: int | None = None) -> str:
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


def read_token(settings: Settings, token: str) -> Principal:
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
    if role == "staff" and not isinstance(store_id, int):
        raise Unauthorized("invalid token: a staff token names its store")
    issued_at = claims.get("iat")
    return Principal(role, str(claims["sub"]), store_id, merchant_id if isinstance(merchant_id, int) else None,
                     issued_at if isinstance(issued_at, int) else None)


def require_role(principal: Principal, *roles: Role) -> Principal:
    if principal.role not in roles:
        raise Forbidden(f"this needs a {' or '.join(roles)} token")
    return principal
