"""Web Push: the application server key browsers subscribe with, and a user's push subscriptions."""

import asyncio
from typing import Annotated

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from lbs_service.deps import ServicesDep
from lbs_service.fields import RowId, text_field
from lbs_service.responses import PushSubscriptionCreated, PushSubscriptionList, VapidPublicKey
from lbs_service.routers.users import UserDep
from lbs_service.webpush import subscriptions
from lbs_service.webpush.endpoints import MAX_ENDPOINT_LENGTH

router = APIRouter(tags=["web push"])


class SubscriptionKeys(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    p256dh: Annotated[str, text_field(100, 80, description="the browser's P-256 key, base64url")]
    auth: Annotated[str, text_field(30, 16, description="the browser's 16-byte auth secret, base64url")]


class SubscriptionBody(BaseModel):
    """PushSubscription.toJSON(), exactly as a browser sends it."""

    model_config = ConfigDict(extra="forbid", strict=True)
    endpoint: Annotated[str, text_field(MAX_ENDPOINT_LENGTH, 12, description="https URL on an allowed push "
                                                                             "service (LBS_WEBPUSH_ALLOWED_HOSTS)")]
    expirationTime: Annotated[int | None, Field(ge=0, le=7_258_118_400_000,  # noqa: N815 (the browser's name)
                                                description="ms since the epoch, or null")] = None
    keys: SubscriptionKeys


@router.get("/v1/push/vapid-public-key", response_model=VapidPublicKey)
async def vapid_public_key(services: ServicesDep) -> VapidPublicKey:
    return VapidPublicKey(key=services.webpush.key.public_key)


@router.post("/v1/users/me/push-subscriptions", status_code=201, response_model=PushSubscriptionCreated)
async def create_subscription(services: ServicesDep, user: UserDep, body: SubscriptionBody
                              ) -> PushSubscriptionCreated:
    """Notifications for this browser when the app is closed: offers (with location-marketing consent),
    staff answers, orders ready. The same browser again keeps its id."""
    subscription_id = await asyncio.to_thread(
        subscriptions.subscribe, services.db, services.webpush.settings.allowed, user.subject, body.endpoint,
        body.keys.p256dh, body.keys.auth, body.expirationTime, services.clock())
    return PushSubscriptionCreated(id=subscription_id)


@router.get("/v1/users/me/push-subscriptions", response_model=PushSubscriptionList)
async def list_subscriptions(services: ServicesDep, user: UserDep) -> PushSubscriptionList:
    return await asyncio.to_thread(subscriptions.list_subscriptions, services.db, user.subject)


@router.delete("/v1/users/me/push-subscriptions/{subscription_id}", status_code=204)
async def delete_subscription(services: ServicesDep, user: UserDep, subscription_id: RowId) -> Response:
    await asyncio.to_thread(subscriptions.unsubscribe, services.db, user.subject, subscription_id)
    return Response(status_code=204)
