"""Sends the Web Push deliveries that are due, once, from whichever worker claims them.

A delivery (outbox/pushes.py) is claimed with a lease (FOR UPDATE SKIP LOCKED on PostgreSQL; the
embedded SQLite file has one writer), so two workers never send the same one, and one that a dead
worker had claimed is taken again when its lease runs out - "worker killed between commit and
send" still delivers once. A claim carries a token: deciding and sending end well within the
lease (SETTLE_S), and an outcome is recorded only under the claim that holds the row.

Before sending, the delivery is checked again: the user's socket is open on some worker (the
socket has the message: no push), an offer whose user withdrew consent or is in quiet hours
(dropped), a subscription the browser said has expired (dropped), older than the TTL (expired).
The push service's answer decides the rest: 2xx sent; 404/410 the subscription is gone (deleted,
with whatever it was still owed); 429/5xx or no answer: again later, doubling from
LBS_WEBPUSH_RETRY_BASE_S or after the Retry-After (in seconds) it asked for, until
LBS_WEBPUSH_MAX_ATTEMPTS - as is anything that failed on our side (a Redis or database blink, a
name no resolver takes); anything else: failed. A push that reached the push service and whose
worker died before recording it may be sent twice: nothing on the HTTP side can make that exactly
once.
"""

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiohttp
import orjson
from sqlalchemy import delete, or_, select, update

from lbs_service import metrics
from lbs_service.clock import Clock
from lbs_service.o2o.customers import may_market
from lbs_service.outbox.pushes import WROTE_PUSHES
from lbs_service.outbox.wake import CommitWake
from lbs_service.statuses import PushKind, PushState
from lbs_service.storage.db import Database
from lbs_service.storage.models import PushSubscription, WebPushDelivery
from lbs_service.webpush.endpoints import AllowedHost
from lbs_service.webpush.keys import VapidKey, load_vapid_key
from lbs_service.webpush.transport import Outcome, Target, send_push
from push.hub import Hub
from push.messages import user_channel

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=60)
SETTLE_S = 25.0  # deciding and sending one delivery takes at most this (the send: transport.TIMEOUT_S)
BATCH = 50
IN_FLIGHT = 32  # deliveries being settled at once per worker


@dataclass(frozen=True)
class PushSettings:
    """What the sender reads from the settings."""

    allowed: tuple[AllowedHost, ...]
    private_key: str  # LBS_VAPID_PRIVATE_KEY ("": kept in the database)
    subject: str
    ttl_s: int
    retry_base_s: float
    max_attempts: int
    poll_s: float


@dataclass(frozen=True)
class Claimed:
    """A delivery this worker holds the lease of, with where it goes."""

    id: int
    subscription_id: int
    user_id: str
    kind: PushKind
    payload: dict[str, object]
    topic: str
    urgency: str
    created_at: datetime
    attempts: int  # this one included
    claim: str  # this claim's token: the row is this worker's to record while it still carries it
    subscription_expires_at: datetime | None
    target: Target


class WebPushSender:
    """Claims due deliveries, decides each (online, consent, expiry), sends, and records the outcome."""

    def __init__(self, db: Database, hub: Hub, settings: PushSettings, clock: Clock) -> None:
        self.db = db
        self.hub = hub
        self._key: VapidKey | None = None
        self.settings = settings
        self.clock = clock
        self._wake = CommitWake(db, WROTE_PUSHES)  # a transaction that owed pushes committed
        self._task: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None
        self._stopping = False
        self._in_flight: set[asyncio.Task[None]] = set()

    @property
    def key(self) -> VapidKey:
        assert self._key is not None, "the VAPID key is loaded by start()"
        return self._key

    async def start(self) -> None:
        self._key = await asyncio.to_thread(load_vapid_key, self.db, self.settings.private_key,
                                            self.settings.subject)
        self._wake.bind()
        # No cookies, no proxy from the environment, no redirects (transport.py): a push service only.
        self._http = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar(), trust_env=False)
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        """Finish what is in flight (its database work runs in threads a cancel cannot stop), then stop."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
        self._wake.unbind()

    async def _run(self) -> None:
        while not self._stopping:
            await self._wake.wait(self.settings.poll_s)
            if self._stopping:
                return
            try:  # each delivery settled wakes the loop again, so the pipeline stays full
                await self._take(IN_FLIGHT - len(self._in_flight))
            except Exception:  # the database blinked: the rows stay pending and the next round retries
                log.exception("web push round failed")

    async def _take(self, room: int) -> list[asyncio.Task[None]]:
        """Claim up to `room` due deliveries (at most a batch) and start settling each. A push service that
        stalls holds only its own requests: the others go on, up to IN_FLIGHT at once per worker."""
        if room <= 0:
            return []
        claimed = await asyncio.to_thread(self._claim, self.clock(), min(room, BATCH))
        tasks = [asyncio.create_task(self._settle(d)) for d in claimed]
        for task in tasks:
            self._in_flight.add(task)
            task.add_done_callback(self._settled)
        return tasks

    def _settled(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._wake.set()  # room for more: look again

    async def send_due(self) -> int:
        """Claim up to one batch of due deliveries and settle them all; returns how many were claimed."""
        tasks = await self._take(BATCH)
        await asyncio.gather(*tasks)
        return len(tasks)

    # ---- claiming --------------------------------------------------------------------------
    def _claim(self, now: datetime, limit: int) -> list[Claimed]:
        due = (select(WebPushDelivery.id)
               .where(WebPushDelivery.state == PushState.PENDING, WebPushDelivery.due_at <= now,
                      or_(WebPushDelivery.lease_until.is_(None), WebPushDelivery.lease_until < now))
               .order_by(WebPushDelivery.due_at, WebPushDelivery.id).limit(limit))
        if self.db.is_postgres:
            due = due.with_for_update(skip_locked=True)
        claim = uuid.uuid4().hex
        with self.db.transaction() as session:
            ids = list(session.scalars(update(WebPushDelivery).where(WebPushDelivery.id.in_(due.scalar_subquery()))
                                       .values(lease_until=now + LEASE, attempts=WebPushDelivery.attempts + 1,
                                               claimed_by=claim)
                                       .returning(WebPushDelivery.id)))
            rows = session.execute(select(WebPushDelivery, PushSubscription).join(
                PushSubscription, PushSubscription.id == WebPushDelivery.subscription_id)
                .where(WebPushDelivery.id.in_(ids)).order_by(WebPushDelivery.id)).all() if ids else []
            return [Claimed(d.id, s.id, d.user_id, PushKind(d.kind), dict(d.payload), d.topic, d.urgency,
                            d.created_at, d.attempts, claim, s.expires_at, Target(s.endpoint, s.p256dh, s.auth))
                    for d, s in rows]

    # ---- deciding and sending ----------------------------------------------------------------
    async def _settle(self, delivery: Claimed) -> None:
        verdict: PushState | None = None
        outcome = Outcome(None)
        try:
            # Decided and sent well within the lease: past it, another worker may take the delivery.
            async with asyncio.timeout(SETTLE_S):
                verdict = await self._verdict(delivery)
                if verdict is None:
                    outcome = await self._send(delivery)
        except Exception as error:  # the backplane, the database or the push service failed: tried again later
            log.warning("a web push could not be settled (%s)", type(error).__name__)
        try:
            await self._conclude(delivery, verdict, outcome)
        except Exception as error:  # not recorded: the lease runs out and the delivery is taken again
            log.warning("a web push outcome could not be recorded (%s)", type(error).__name__)

    async def _verdict(self, delivery: Claimed) -> PushState | None:
        """How the delivery ends without being sent, or None: send it."""
        now = self.clock()
        if delivery.subscription_expires_at is not None and delivery.subscription_expires_at <= now:
            return PushState.DROPPED
        if (now - delivery.created_at).total_seconds() >= self.settings.ttl_s:
            return PushState.EXPIRED
        if delivery.attempts > self.settings.max_attempts:  # claimed again and again by workers that died
            return PushState.FAILED
        if delivery.kind == PushKind.OFFER and not await asyncio.to_thread(self._may_market, delivery, now):
            return PushState.DROPPED  # consent withdrawn, or quiet hours began, since it was decided
        if await self.hub.listening(user_channel(delivery.user_id)):
            return PushState.ONLINE
        return None

    def _may_market(self, delivery: Claimed, now: datetime) -> bool:
        with self.db.session() as session:
            return may_market(session, delivery.user_id, now)

    async def _send(self, delivery: Claimed) -> Outcome:
        assert self._http is not None, "send before start()"
        ttl_s = max(1, int(self.settings.ttl_s - (self.clock() - delivery.created_at).total_seconds()))
        outcome = await send_push(self._http, self.key, self.settings.allowed, delivery.target,
                                  orjson.dumps(delivery.payload), ttl_s, delivery.topic, delivery.urgency)
        metrics.count("lbs_webpush_requests_total", status=str(outcome.status or "none"))
        return outcome

    async def _conclude(self, delivery: Claimed, verdict: PushState | None, outcome: Outcome) -> None:
        status = outcome.status
        if verdict is not None:
            await self._finish(delivery, verdict, None)
        elif status is not None and 200 <= status < 300:
            await self._finish(delivery, PushState.SENT, status)
        elif status in (404, 410):
            await asyncio.to_thread(self._forget_subscription, delivery.subscription_id)
        elif status is None or status == 429 or status >= 500:
            await self._retry_or_fail(delivery, outcome)
        else:
            await self._finish(delivery, PushState.FAILED, status)

    async def _retry_or_fail(self, delivery: Claimed, outcome: Outcome) -> None:
        if delivery.attempts >= self.settings.max_attempts:
            await self._finish(delivery, PushState.FAILED, outcome.status)
            return
        backoff = self.settings.retry_base_s * 2 ** (delivery.attempts - 1)
        wait_s = max(backoff, outcome.retry_after_s or 0.0)
        await asyncio.to_thread(self._record, delivery, {
            "due_at": self.clock() + timedelta(seconds=wait_s), "last_status": outcome.status, "lease_until": None})

    # ---- recording -------------------------------------------------------------------------
    async def _finish(self, delivery: Claimed, state: PushState, status: int | None) -> None:
        metrics.count("lbs_webpush_settled_total", state=state.value)
        values: dict[str, object] = {"state": state, "last_status": status, "finished_at": self.clock(),
                                     "lease_until": None}
        for attempt in range(3):  # a push that went out and is not recorded as sent would go out again
            try:
                await asyncio.to_thread(self._record, delivery, values)
                return
            except Exception:
                if attempt == 2:
                    raise
                await asyncio.sleep(0.5)

    def _record(self, delivery: Claimed, values: dict[str, object]) -> None:
        """Only under this worker's own claim: one that ran past its lease changes nothing."""
        with self.db.transaction() as session:
            session.execute(update(WebPushDelivery).where(
                WebPushDelivery.id == delivery.id, WebPushDelivery.state == PushState.PENDING,
                WebPushDelivery.claimed_by == delivery.claim).values(values))

    def _forget_subscription(self, subscription_id: int) -> None:
        """The push service says the subscription is gone: so is everything still owed to it."""
        metrics.count("lbs_webpush_subscriptions_gone_total")
        with self.db.transaction() as session:
            session.execute(delete(WebPushDelivery).where(WebPushDelivery.subscription_id == subscription_id))
            session.execute(delete(PushSubscription).where(PushSubscription.id == subscription_id))
