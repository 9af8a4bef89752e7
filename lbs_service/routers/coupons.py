"""Coupons in the user's hands (list, QR), their redemption by a store's staff, and reviews after the visit."""

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from lbs_service.auth import require_role
from lbs_service.deps import PrincipalDep, ServicesDep
from lbs_service.errors import NotFound
from lbs_service.fields import NO_NUL_PATTERN, Cents, Code, LongText
from lbs_service.o2o import coupons
from lbs_service.o2o.access import require_store_staff
from lbs_service.o2o.qr import QR_TTL_S, mint_qr_token
from lbs_service.o2o.redemption import redeem
from lbs_service.o2o.reviews import write_review
from lbs_service.problems import problem
from lbs_service.responses import CouponPublic, CouponQr, Redeemed, ReviewPublic
from lbs_service.routers.params import RowIdPath, StoreIdPath
from lbs_service.routers.qr import qr_response

router = APIRouter(tags=["coupons"])


class RedemptionBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    code: Code
    basket_cents: Cents | None = Field(None, description="the basket at the till: the answer shows the offer's "
                                                         "discount on it (a basket below its minimum spend is "
                                                         "refused and the coupon stays unspent)")


@router.get("/v1/users/me/coupons", response_model=list[CouponPublic])
async def my_coupons(services: ServicesDep, principal: PrincipalDep) -> list[CouponPublic]:
    user = require_role(principal, "user")
    return await asyncio.to_thread(coupons.coupons_of, services.db, user.subject)


@router.get("/v1/coupons/{coupon_id}/qr", response_model=CouponQr)
async def coupon_qr_payload(services: ServicesDep, principal: PrincipalDep, coupon_id: RowIdPath) -> CouponQr:
    """The short-lived payload the app draws as a QR code (refresh it before `expires_in`)."""
    user = require_role(principal, "user")
    coupon = await asyncio.to_thread(coupons.own_coupon, services.db, coupon_id, user.subject)
    return CouponQr(payload=mint_qr_token(services.settings, "coupon", coupon.id, user.subject), expires_in=QR_TTL_S,
                    code=coupon.code)


@router.get("/v1/coupons/{coupon_id}/qr.{kind}", response_class=Response,
            responses={200: {"content": {"image/svg+xml": {}, "image/png": {}}}})
async def coupon_qr_image(services: ServicesDep, principal: PrincipalDep, coupon_id: RowIdPath,
                          kind: Literal["svg", "png"]) -> Response:
    user = require_role(principal, "user")
    coupon = await asyncio.to_thread(coupons.own_coupon, services.db, coupon_id, user.subject)
    return qr_response(mint_qr_token(services.settings, "coupon", coupon.id, user.subject), kind)



@router.post("/v1/stores/{store_id}/redemptions", response_model=None, responses={200: {"model": Redeemed}})
async def redeem_coupon(
    services: ServicesDep,
    principal: PrincipalDep,
    store_id: StoreIdPath,
    body: RedemptionBody,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=200, pattern=NO_NUL_PATTERN)] = None,
) -> JSONResponse | Response:
    """Staff of this store redeem a coupon by its code or its scanned QR payload."""
    staff = require_store_staff(principal, store_id)
    await services.limits.check("redeem", staff.subject)
    store = services.catalog.records.get(store_id)
    if store is None:
        raise NotFound(f"no open store with id {store_id}")
    district = services.catalog.district_of(store)
    outcome = await asyncio.to_thread(redeem, services.db, services.settings, store, district, staff.subject,
                                      body.code, body.basket_cents, idempotency_key, services.clock(),
                                      services.settings.points_rules.get("redemption", 0))
    if outcome.status == 200:
        return JSONResponse(outcome.body)
    return problem(outcome.status, outcome.body["title"], outcome.body["detail"])


class ReviewBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    rating: Annotated[int, Field(ge=1, le=5)]
    text: LongText = ""


@router.post("/v1/stores/{store_id}/reviews", status_code=201, response_model=ReviewPublic)
async def review_store(services: ServicesDep, principal: PrincipalDep, store_id: StoreIdPath,
                       body: ReviewBody) -> ReviewPublic:
    """A rating after your own visit (a redeemed coupon or a picked-up order here), one per visit."""
    user = require_role(principal, "user")
    result = await asyncio.to_thread(write_review, services.db, user.subject, store_id, body.rating, body.text,
                                     services.clock(), services.settings.points_rules.get("review", 0))
    await services.catalog.refresh()
    return result
