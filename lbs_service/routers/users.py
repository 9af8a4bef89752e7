"""The user's own settings: location-marketing consent, quiet hours, and fixes for clients without a websocket."""

import asyncio
from datetime import UTC, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select

from lbs_service.auth import Principal, require_role
from lbs_service.deps import PrincipalDep, ServicesDep
from lbs_service.errors import InvalidInput
from lbs_service.hours import parse_timezone
from lbs_service.o2o.members import profile
from lbs_service.privacy import delete_location_rows, fence_summary, location_rows
from lbs_service.proximity.fixes import LocationBatch
from lbs_service.proximity.rules import LOCATION_MARKETING
from lbs_service.storage.models import ConsentRecord, UserPreferences

router = APIRouter(prefix="/v1/users/me", tags=["users"])


async def get_user(principal: PrincipalDep) -> Principal:
    return require_role(principal, "user")


UserDep = Annotated[Principal, Depends(get_user)]


class ConsentBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    location_marketing: bool


class PreferencesBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    timezone: str = "Asia/Shanghai"
    quiet_start: Annotated[str, Field(pattern=r"^\d\d:\d\d$")] | None = None
    quiet_end: Annotated[str, Field(pattern=r"^\d\d:\d\d$")] | None = None

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


def _consent_state(services: Any, user_id: str) -> dict[str, Any]:
    with services.db.session() as session:
        rows = session.execute(
            select(ConsentRecord.granted, ConsentRecord.recorded_at)
            .where(ConsentRecord.user_id == user_id, ConsentRecord.purpose == LOCATION_MARKETING)
            .order_by(ConsentRecord.id)
        ).all()
    history = [{"location_marketing": g, "recorded_at": at.isoformat()} for g, at in rows]
    return {"location_marketing": bool(rows and rows[-1][0]), "history": history}


@router.get("/consent")
async def get_consent(services: ServicesDep, user: UserDep) -> dict[str, Any]:
    return await asyncio.to_thread(_consent_state, services, user.subject)


@router.put("/consent")
async def put_consent(services: ServicesDep, user: UserDep, body: ConsentBody) -> dict[str, Any]:
    """Give or withdraw consent to location-based offers; takes effect on the next fix."""

    def record() -> None:
        with services.db.transaction() as session:
            session.add(ConsentRecord(user_id=user.subject, purpose=LOCATION_MARKETING,
                                      granted=body.location_marketing, recorded_at=datetime.now(UTC)))

    await asyncio.to_thread(record)
    return await asyncio.to_thread(_consent_state, services, user.subject)


@router.put("/preferences")
async def put_preferences(services: ServicesDep, user: UserDep, body: PreferencesBody) -> dict[str, Any]:
    if (body.quiet_start is None) != (body.quiet_end is None):
        raise InvalidInput("quiet_start and quiet_end go together")

    def save() -> None:
        with services.db.transaction() as session:
            session.merge(UserPreferences(user_id=user.subject, timezone=body.timezone,
                                          quiet_start=body.quiet_start, quiet_end=body.quiet_end))

    await asyncio.to_thread(save)
    return body.model_dump()


@router.post("/locations")
async def post_locations(services: ServicesDep, user: UserDep, body: LocationBatch) -> dict[str, Any]:
    """A batch of fixes, with the same effect as sending them on the user websocket."""
    await services.limits.check("fix", user.subject, len(body.fixes))
    engine = services.engine
    state = await engine.load_state(user.subject)
    outcomes = await engine.process(user.subject, state, [f.to_fix() for f in body.fixes])
    await engine.release(user.subject, state)  # no socket stays here: leave an exact checkpoint, keep no memory
    dropped: dict[str, int] = {}
    for outcome in outcomes:
        if outcome.dropped:
            dropped[outcome.dropped] = dropped.get(outcome.dropped, 0) + 1
    return {"accepted": sum(o.dropped is None for o in outcomes), "dropped": dropped,
            "arrivals": [store for o in outcomes for store in o.arrivals]}


@router.get("/profile")
async def get_profile(services: ServicesDep, user: UserDep) -> dict[str, Any]:
    """Your member tier and the tags derived from your visits (what the O2O flow knows of you)."""

    def load() -> dict[str, Any]:
        with services.db.session() as session:
            return profile(session, user.subject, services.settings.member_tiers)

    return await asyncio.to_thread(load)



@router.get("/location-data")
async def export_location_data(services: ServicesDep, user: UserDep) -> dict[str, Any]:
    """Everything we hold about where you have been (see privacy.py), to take away."""
    state = await services.engine.fences.load(user.subject)
    rows = await asyncio.to_thread(location_rows, services.db, services.demand, user.subject)
    return {"user_id": user.subject, "fix_retention_s": services.settings.fix_retention_s,
            "fence_state": fence_summary(state), **rows}


@router.delete("/location-data")
async def erase_location_data(services: ServicesDep, user: UserDep) -> dict[str, Any]:
    """Erase it: the fence checkpoint, arrivals, promotions sent and demand rows. Coupons and orders stay."""
    await services.engine.fences.forget(user.subject)
    deleted = await asyncio.to_thread(delete_location_rows, services.db, services.demand, user.subject)
    return {"deleted": {"fence_state": 1, **deleted}}
