"""QR images for coupons and pickup orders, as HTTP responses."""

from fastapi.responses import Response

from lbs_service.o2o.qr import qr_image


def qr_response(payload: str, kind: str) -> Response:
    """A QR image that no cache may keep: its token expires within the minute."""
    media_type = "image/svg+xml" if kind == "svg" else "image/png"
    return Response(qr_image(payload, kind), media_type=media_type, headers={"Cache-Control": "no-store"})
