"""QR codes for coupons and pickup orders: a signed token bound to the object and its holder,
valid for a minute. The app refreshes it while it is on screen, so a screenshot replayed later
is refused."""

import io
import time
from typing import Literal

import jwt
import segno

from lbs_service.errors import InvalidInput
from lbs_service.settings import SigningSettings

QR_AUDIENCE = "lbs-qr"
QR_PREFIX = "LBSQR1:"
QR_TTL_S = 60
Kind = Literal["coupon", "order"]


def mint_qr_token(settings: SigningSettings, kind: Kind, object_id: int, user_id: str, ttl_s: int = QR_TTL_S) -> str:
    now = int(time.time())
    claims = {"k": kind, "oid": object_id, "sub": user_id, "aud": QR_AUDIENCE, "iss": settings.token_issuer,
              "iat": now, "exp": now + ttl_s}
    return QR_PREFIX + jwt.encode(claims, settings.secret_key, algorithm="HS256")


def looks_like_qr(code: str) -> bool:
    return code.startswith(QR_PREFIX)


def read_qr_token(settings: SigningSettings, code: str, kind: Kind) -> tuple[int, str]:
    """(object id, holder) from a scanned code; an expired, forged or wrong-kind one is refused."""
    try:
        claims = jwt.decode(code[len(QR_PREFIX) :], settings.secret_key, algorithms=["HS256"], audience=QR_AUDIENCE,
                            issuer=settings.token_issuer, options={"require": ["exp", "oid", "sub", "k"]})
    except jwt.ExpiredSignatureError:
        raise InvalidInput("this QR code has expired: ask the customer to open it again") from None
    except jwt.PyJWTError:
        raise InvalidInput("this QR code is not one of ours") from None
    if claims["k"] != kind:
        raise InvalidInput(f"this QR code is not a {kind}")
    return int(claims["oid"]), str(claims["sub"])


def qr_image(payload: str, kind: str) -> bytes:
    buffer = io.BytesIO()
    segno.make(payload, error="m").save(buffer, kind=kind, scale=6, border=2)
    return buffer.getvalue()

