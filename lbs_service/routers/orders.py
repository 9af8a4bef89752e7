"""The catalogue, stock per store, and orders paid online and picked up in the store."""

import asyncio
from dataclasses import asdict
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from lbs_service.auth import require_role
from lbs_service.deps import OptionalPrincipalDep, PrincipalDep, ServicesDep
from lbs_service.errors import Forbidden, NotFound
from lbs_service.fields import INT64_MAX, NO_NUL_PATTERN, Code, Label, Name, RowId, StoreId, text_field
from lbs_service.o2o import orders, stock, stocking
from lbs_service.o2o.access import may_manage_store, require_store_staff
from lbs_service.o2o.qr import QR_TTL_S, mint_qr_token
from lbs_service.responses import (
    OrderPublic,
    OrderQr,
    OrderStaffView,
    PaymentApplied,
    PaymentRefunded,
    PlacedOrder,
    QueuedOrder,
    SkuPublic,
    StockLevel,
    StockRow,
    StockSuggestionPublic,
)
from lbs_service.routers.params import RowIdPath, StoreIdPath
from lbs_service.routers.qr import qr_response
from lbs_service.services import Services
from lbs_service.statuses import WAITING_FOR_PICKUP, OrderStatus

router = APIRouter(tags=["orders"])
SignatureHeader = Annotated[str, Header(min_length=1, max_length=200, pattern=NO_NUL_PATTERN)]
PaymentRef = Annotated[str, Path(min_length=1, max_length=64, pattern="^[A-Za-z0-9_-]+$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class SkuBody(_Strict):
    merchant_id: RowId
    code: Label
    name: Name
    price_cents: Annotated[int, Field(ge=0, le=100_000_000)]


class StockBody(_Strict):
    quantity: Annotated[int, Field(ge=0, le=1_000_000)]


class LineBody(_Strict):
    sku_id: RowId
    quantity: Annotated[int, Field(ge=1, le=1000)]


class OrderBody(_Strict):
    store_id: StoreId
    lines: Annotated[list[LineBody], Field(min_length=1, max_length=100)]
    coupon_code: Annotated[str, text_field(32, 4)] | None = Field(
        None, description="a coupon of yours whose offer comes off the total (spent on this order; given back "
                          "if it is cancelled before pickup)")


class CodeBody(_Strict):
    code: Code


class PaymentCallback(_Strict):
    ref: Annotated[str, text_field(64, 1)]
    status: Literal["paid"]


@router.post("/v1/skus", status_code=201, response_model=SkuPublic)
async def create_sku(services: ServicesDep, principal: PrincipalDep, body: SkuBody) -> SkuPublic:
    own_merchant = principal.role == "merchant" and principal.merchant_id == body.merchant_id
    if not (principal.role == "operator" or own_merchant):
        raise Forbidden("only the operator or that merchant adds to its catalogue")
    return await asyncio.to_thread(stock.create_sku, services.db, stock.NewSku(**body.model_dump()))


@router.get("/v1/skus", response_model=list[SkuPublic])
async def find_skus(services: ServicesDep, request: Request, principal: OptionalPrincipalDep,
                    q: Annotated[str, Query(min_length=1, max_length=200, pattern=NO_NUL_PATTERN,
                                            description="up to 8 words in the code or name (case and width "
                                                        "folded)")],
                    merchant_id: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
                    limit: Annotated[int, Query(ge=1, le=50)] = 20) -> list[SkuPublic]:
    """The catalogue, searched: what the finder suggests as you type the name of a product. Each
    request scans the catalogue's text, so it has a rate (anonymous clients by address)."""
    client = principal.subject if principal is not None else f"ip:{request.client.host if request.client else '-'}"
    await services.limits.check("catalogue", client)
    return await asyncio.to_thread(stock.find_skus, services.db, q, merchant_id, limit)


@router.put("/v1/stores/{store_id}/stock/{sku_id}", response_model=StockLevel)
async def set_stock(services: ServicesDep, principal: PrincipalDep, store_id: StoreIdPath, sku_id: RowIdPath,
                    body: StockBody) -> StockLevel:
    await asyncio.to_thread(may_manage_store, services.db, principal, store_id)
    return await asyncio.to_thread(stock.set_stock, services.db, store_id, sku_id, body.quantity)


@router.get("/v1/stores/{store_id}/stock", response_model=list[StockRow])
async def list_stock(services: ServicesDep, store_id: StoreIdPath) -> list[StockRow]:
    return await asyncio.to_thread(stock.list_stock, services.db, store_id)


@router.get("/v1/stores/{store_id}/stock/suggestions", response_model=list[StockSuggestionPublic])
async def stock_suggestions(services: ServicesDep, principal: PrincipalDep,
                            store_id: StoreIdPath) -> list[StockSuggestionPublic]:
    """Per product: on hand, the next 7 days' demand forecast, and what to order (staff of the store,
    its merchant, operators)."""
    await asyncio.to_thread(may_manage_store, services.db, principal, store_id)
    rows = await asyncio.to_thread(stocking.suggestions, services.db, store_id, services.clock())
    return [StockSuggestionPublic(**asdict(row)) for row in rows]


@router.get("/v1/stores/{store_id}/orders", response_model=list[QueuedOrder])
async def store_orders(services: ServicesDep, principal: PrincipalDep, store_id: StoreIdPath,
                       status: Annotated[list[Literal["pending", "paid", "ready"]] | None, Query(
                           max_length=3, description="which open orders (default: paid and ready)")] = None,
                       ) -> list[QueuedOrder]:
    """The store's open orders (its pickup queue), for its staff, its merchant and operators."""
    await asyncio.to_thread(may_manage_store, services.db, principal, store_id)
    wanted = tuple(OrderStatus(s) for s in status) if status else WAITING_FOR_PICKUP
    return await asyncio.to_thread(orders.store_queue, services.db, services.settings.secret_key,
                                   store_id, wanted)


@router.post("/v1/orders", status_code=201, response_model=PlacedOrder)
async def place_order(services: ServicesDep, principal: PrincipalDep, body: OrderBody) -> PlacedOrder:
    user = require_role(principal, "user")
    await services.limits.check("order", user.subject)
    lines = [orders.Line(line.sku_id, line.quantity) for line in body.lines]
    record = services.catalog.records.get(body.store_id)
    district = services.catalog.district_of(record) if record is not None else None
    return await asyncio.to_thread(orders.place, services.db, services.payments, user.subject, body.store_id, lines,
                                   services.clock(), body.coupon_code, district)


@router.get("/v1/orders/{order_id}", response_model=OrderPublic | OrderStaffView)
async def get_order(services: ServicesDep, principal: PrincipalDep,
                    order_id: RowIdPath) -> OrderPublic | OrderStaffView:
    order, lines = await asyncio.to_thread(orders.visible_order, services.db, principal, order_id)
    return orders.public(order, lines, for_customer=principal.role == "user")


async def _apply_payment(services: Services, ref: str) -> PaymentApplied | PaymentRefunded:
    return await asyncio.to_thread(orders.confirm_payment, services.db, services.payments, services.settings.secret_key,
                                   ref, services.clock())


@router.post("/v1/payments/callback", response_model=PaymentApplied | PaymentRefunded)
async def payment_callback(services: ServicesDep, body: PaymentCallback,
                           x_signature: SignatureHeader) -> PaymentApplied | PaymentRefunded:
    """The provider tells us an order is paid; signed, and safe to deliver more than once."""
    event = services.payments.verify(body.model_dump(), x_signature)
    return await _apply_payment(services, event.ref)


@router.post("/v1/payments/simulated/{ref}/pay", response_model=PaymentApplied | PaymentRefunded)
async def simulated_pay(services: ServicesDep, principal: PrincipalDep,
                        ref: PaymentRef) -> PaymentApplied | PaymentRefunded:
    """The simulated provider's checkout: it charges, then calls back as a real provider would."""
    user = require_role(principal, "user")

    if await asyncio.to_thread(orders.payer_of, services.db, ref) != user.subject:
        raise NotFound("no payment of yours with this reference")
    callback = {"ref": ref, "status": "paid"}
    sign = getattr(services.payments, "sign", None)
    if sign is None:
        raise NotFound("the configured payment provider is not the simulated one")
    event = services.payments.verify(callback, sign(callback))
    return await _apply_payment(services, event.ref)


@router.post("/v1/orders/{order_id}/ready", response_model=OrderStaffView)
async def order_ready(services: ServicesDep, principal: PrincipalDep, order_id: RowIdPath) -> OrderStaffView:
    staff = require_role(principal, "staff", "operator")
    return await asyncio.to_thread(orders.mark_ready, services.db, services.settings.secret_key, order_id,
                                   staff.store_id, services.clock())


@router.post("/v1/stores/{store_id}/pickups", response_model=OrderStaffView)
async def pickup(services: ServicesDep, principal: PrincipalDep, store_id: StoreIdPath,
                 body: CodeBody) -> OrderStaffView:
    require_store_staff(principal, store_id)
    return await asyncio.to_thread(orders.pick_up, services.db, services.settings, store_id, body.code,
                                   services.clock(), services.settings.points_rules.get("pickup", 0))


@router.post("/v1/orders/{order_id}/cancel", response_model=OrderPublic | OrderStaffView)
async def cancel_order(services: ServicesDep, principal: PrincipalDep,
                       order_id: RowIdPath) -> OrderPublic | OrderStaffView:
    who = require_role(principal, "user", "staff", "operator")
    user_id = who.subject if who.role == "user" else None
    store_id = who.store_id if who.role == "staff" else None
    return await asyncio.to_thread(orders.cancel, services.db, services.payments, services.settings.secret_key,
                                   order_id, user_id, store_id, services.clock())


@router.post("/v1/orders/{order_id}/return", response_model=OrderStaffView)
async def return_order(services: ServicesDep, principal: PrincipalDep, order_id: RowIdPath) -> OrderStaffView:
    """Goods brought back within 14 days of pickup (staff of the order's store, or the operator): refunded,
    restocked, its coupon given back, the points its pickup earned taken back."""
    staff = require_role(principal, "staff", "operator")
    return await asyncio.to_thread(orders.return_order, services.db, services.payments, services.settings.secret_key,
                                   order_id, staff.store_id, services.clock())


@router.get("/v1/orders/{order_id}/qr", response_model=OrderQr)
async def order_qr_payload(services: ServicesDep, principal: PrincipalDep, order_id: RowIdPath) -> OrderQr:
    user = require_role(principal, "user")
    order, _ = await asyncio.to_thread(orders.visible_order, services.db, user, order_id)
    return OrderQr(payload=mint_qr_token(services.settings, "order", order.id, user.subject), expires_in=QR_TTL_S,
                   pickup_code=order.pickup_code)


@router.get("/v1/orders/{order_id}/qr.{kind}", response_class=Response,
            responses={200: {"content": {"image/svg+xml": {}, "image/png": {}}}})
async def order_qr_image(services: ServicesDep, principal: PrincipalDep, order_id: RowIdPath,
                         kind: Literal["svg", "png"]) -> Response:
    user = require_role(principal, "user")
    order, _ = await asyncio.to_thread(orders.visible_order, services.db, user, order_id)
    return qr_response(mint_qr_token(services.settings, "order", order.id, user.subject), kind)
