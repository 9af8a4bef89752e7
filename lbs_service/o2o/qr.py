"""QR codes for coupons: a signed token bound to the coupon and its holder, valid for a minute.

The app refreshes it while the coupon is on screen, so a screenshot replayed later is refused.
"""

import io
import time

import jwt
import segno

from lbs_service.errors import InvalidInput
from lbs_service.settings import Settings

QR_AUDIENCE = "lbs-qr"
QR_PREFIX = "LBSQR1:"
QR_TTL_S = 60


def mint_qr_token(settings: Settings, coupon_id: int, user_id: str, ttl_s: int = QR_TTL_S) -> str:
    now = int(time.time())
    claims = {"cpn": coupon_id, "sub": user_id, "aud": QR_AUDIENCE, "iss": settings.token_issuer, "iat": now,
              "exp": now + ttl_s}
    return QR_PREFIX + jwt.encode(claims, settings.secret_key, algorithm="HS256")


def looks_like_qr(code: str) -> bool:
    return code.startswith(QR_PREFIX)


def read_qr_token(settings: Settings, code: str) -> tuple[int, str]:
    """(coupon id, holder) from a scanned code; an expired or forged one is refused."""
    try:
        claims = jwt.decode(code[len(QR_PREFIX) :], settings.secret_key, algorithms=["HS256"], audience=QR_AUDIENCE,
                            issuer=settings.token_issuer, options={"require": ["exp", "cpn", "sub"]})
    except jwt.ExpiredSignatureError:
        raise InvalidInput("this QR code has expired: ask the customer to open the coupon again") from None
    except jwt.PyJWTError:
        raise InvalidInput("this QR code is not one of ours") from None
    return int(claims["cpn"]), str(claims["sub"])


def qr_image(payload: str, kind: str) -> bytes:
    buffer = io.BytesIO()
    segno.make(payload, error="m").save(buffer, kind=kind, scale=6, border=2)
    return buffer.getvalue()
