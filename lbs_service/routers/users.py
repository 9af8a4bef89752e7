"""The user's own settings and data: location-marketing consent, quiet hours, fixes for clients
without a websocket, their profile, and their location data (export, erase)."""

import asyncio
from collections import Counter
from datetime import time
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, field_validator

from lbs_service import privacy
from lbs_service.auth import Principal, require_role
from lbs_service.deps import PrincipalDep, ServicesDep
from lbs_service.errors import InvalidInput
from lbs_service.fields import text_field
from lbs_service.hours import parse_timezone
from lbs_service.o2o import customers
from lbs_service.o2o.members import member_profile
from lbs_service.proximity.fixes import LocationBatch
from lbs_service.responses import (
    ConsentPublic,
    Erasure,
    LocationBatchResult,
    LocationData,
    MemberProfile,
    PreferencesPublic,
    VisitStage,
    stage_name,
)

router = APIRouter(prefix="/v1/users/me", tags=["users"])


async def get_user(principal: PrincipalDep) -> Principal:
    return require_role(principal, "user")


UserDep = Annotated[Principal, Depends(get_user)]
ClockText = Annotated[str, text_field(5, 5, description="HH:MM")]


class ConsentBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    location_marketing: bool


class PreferencesBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    timezone: Annotated[str, text_field(64, 1)] = "Asia/Shanghai"
    quiet_start: ClockText | None = None
    quiet_end: ClockText | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, name: str) -> str:
        parse_timezone(name)
        return name

    @field_validator("quiet_start", "quiet_end")
    @classmethod
    def _clock(cls, value: str | None) -> str | None:
        if value is not None:
            time.fromisoformat(value)
        return value


@router.get("/consent", response_model=ConsentPublic)
async def get_consent(services: ServicesDep, user: UserDep) -> ConsentPublic:
    return await asyncio.to_thread(customers.consent_state, services.db, user.subject)


@router.put("/consent", response_model=ConsentPublic)
async def put_consent(services: ServicesDep, user: UserDep, body: ConsentBody) -> ConsentPublic:
    """Give or withdraw consent to location-based offers; takes effect on the next fix, on every worker."""
    await asyncio.to_thread(customers.record_consent, services.db, user.subject, body.location_marketing,
                            services.clock())
    return await asyncio.to_thread(customers.consent_state, services.db, user.subject)


@router.put("/preferences", response_model=PreferencesPublic)
async def put_preferences(services: ServicesDep, user: UserDep, body: PreferencesBody) -> PreferencesPublic:
    if (body.quiet_start is None) != (body.quiet_end is None):
        raise InvalidInput("quiet_start and quiet_end go together")
    await asyncio.to_thread(customers.save_preferences, services.db, user.subject, body.timezone, body.quiet_start,
                            body.quiet_end)
    return PreferencesPublic(**body.model_dump())


@router.post("/locations", response_model=LocationBatchResult)
async def post_locations(services: ServicesDep, user: UserDep, body: LocationBatch) -> LocationBatchResult:
    """A batch of fixes, with the same effect as sending them on the user websocket; answered once
    what they caused is committed."""
    await services.limits.check("fix_batch", user.subject)
    fixes = body.to_fixes(services.clock())
    engine = services.engine
    await engine.attach(user.subject)
    try:
        outcomes = await engine.process(user.subject, fixes, wait=True)
    except BaseException:
        await engine.detach(user.subject, keep=False)  # nothing recorded: the checkpoint must not move on
        raise
    await engine.detach(user.subject)
    dropped = Counter(o.dropped for o in outcomes if o.dropped is not None)
    return LocationBatchResult(
        accepted=sum(o.dropped is None for o in outcomes), dropped=dict(dropped),
        arrivals=[store for o in outcomes for store in o.started],
        visits=[VisitStage(store_id=e.store_id, stage=stage_name(e.stage),
                           distance_m=round(e.distance_m, 1)) for o in outcomes for e in o.events])


@router.get("/profile", response_model=MemberProfile)
async def get_profile(services: ServicesDep, user: UserDep) -> MemberProfile:
    """Your member tier and the tags derived from your visits (what the O2O flow knows of you)."""

    return await asyncio.to_thread(member_profile, services.db, user.subject, services.settings.member_tiers)


@router.get("/location-data", response_model=LocationData)
async def export_location_data(services: ServicesDep, user: UserDep) -> LocationData:
    """Everything we hold about where you have been (see privacy.py), to take away."""
    state = await services.engine.fences.load(user.subject)
    return await asyncio.to_thread(privacy.location_data, services.db, services.demand, user.subject, state,
                                   services.settings.fix_retention_s)


@router.delete("/location-data", response_model=Erasure)
async def erase_location_data(services: ServicesDep, user: UserDep) -> Erasure:
    """Erase it, everywhere: every worker's memory, the checkpoint, visits, location events, promotions
    sent, messages about you (and the streams' copies), demand rows. Coupons and orders stay."""
    return Erasure(deleted=await privacy.erase(services, user.subject))
