"""One Web Push request: the payload encrypted for the browser (RFC 8291, aes128gcm, by pywebpush and
http_ece), signed for the push service (RFC 8292 VAPID, by py_vapid), posted with the RFC 8030
headers. The endpoint was checked against the allow-list when it was stored and is checked again
here; redirects are never followed (a push service that redirects is treated as refusing).
"""

import asyncio
import logging
from dataclasses import dataclass

import aiohttp
from pywebpush import WebPusher

from lbs_service.webpush.endpoints import AllowedHost, endpoint_refusal
from lbs_service.webpush.keys import VapidKey

log = logging.getLogger(__name__)
TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Target:
    """Where a push goes: the subscription as the browser gave it."""

    endpoint: str
    p256dh: str
    auth: str


@dataclass(frozen=True)
class Outcome:
    """What the push service said: its status (None: no answer), and Retry-After in seconds if any."""

    status: int | None
    retry_after_s: float | None = None


def encrypt(target: Target, payload: bytes) -> bytes:
    """RFC 8291: aes128gcm for the browser's key and auth secret (a fresh sender key each time)."""
    pusher = WebPusher({"endpoint": target.endpoint, "keys": {"p256dh": target.p256dh, "auth": target.auth}})
    body: bytes = pusher.encode(payload, "aes128gcm")["body"]
    return body


def retry_after(value: str | None) -> float | None:
    """Retry-After as seconds (the delta form; an HTTP date is rare from push services: ignored)."""
    if value is None:
        return None
    try:
        return max(0.0, min(float(value.strip()), 24 * 3600.0))
    except ValueError:
        return None


async def send_push(session: aiohttp.ClientSession, key: VapidKey, allowed: tuple[AllowedHost, ...],
                    target: Target, payload: bytes, ttl_s: int, topic: str, urgency: str) -> Outcome:
    if endpoint_refusal(target.endpoint, allowed) is not None:  # the allow-list shrank since it was stored
        return Outcome(403)
    body = await asyncio.to_thread(encrypt, target, payload)
    headers = {"Content-Encoding": "aes128gcm", "Content-Type": "application/octet-stream", "TTL": str(ttl_s),
               "Topic": topic, "Urgency": urgency, "Authorization": key.authorization(target.endpoint)}
    try:
        async with session.post(target.endpoint, data=body, headers=headers, allow_redirects=False,
                                timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)) as response:
            await response.read()
            return Outcome(response.status, retry_after(response.headers.get("Retry-After")))
    except Exception as error:  # unreachable, a name no resolver takes, a reset: all "no answer", retried
        log.warning("push service unreachable (%s)", type(error).__name__)  # never the endpoint: it is a secret
        return Outcome(None)
