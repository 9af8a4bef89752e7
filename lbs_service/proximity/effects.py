"""What a fix causes, as plain records for the group committer: visit stage changes (with the card
decision already taken from the worker's caches) and promotions."""

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from geo_index.visits import Change, Stage, VisitState
from lbs_service.proximity.decisions import Offer


@dataclass(frozen=True)
class StageChange:
    user_id: str
    store_id: int
    change: Change
    stage: Stage  # the stage the visit reached with this fix
    at: datetime
    distance_m: float
    eta_s: float | None
    dwell_s: float | None
    card: bool  # does this visit get a staff card (intent, or `all` mode)
    context: dict[str, Any]  # what the card shows

    @property
    def starts(self) -> bool:
        return bool(self.change & (Change.STARTED | Change.RESTARTED))


@dataclass(frozen=True)
class Promotion:
    user_id: str
    offer: Offer
    at: datetime


@dataclass
class FixEffects:
    """The effects of one or more fixes of one user, and what to do once they are committed."""

    user_id: str
    changes: list[StageChange] = field(default_factory=list)
    promotions: list[Promotion] = field(default_factory=list)
    checkpoint: VisitState | None = None  # the user's state after these fixes: saved once they are committed
    generation: int = 0  # the user's erasure generation when queued: an older snapshot is never saved
    received: float = 0.0  # perf_counter() when the fixes were taken, for fix-to-alert latency
    done: asyncio.Future[None] | None = None  # set when committed (or failed), for callers that wait

    def __len__(self) -> int:
        return len(self.changes) + len(self.promotions)
