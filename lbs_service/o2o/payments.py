"""Payment providers behind one interface. The embedded default simulates one: it "charges"
and then calls us back exactly as a real provider would, with an HMAC-signed body we verify."""

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from lbs_service.errors import Unauthorized
from lbs_service.responses import Checkout
from lbs_service.settings import SigningSettings


@dataclass(frozen=True)
class PaymentEvent:
    ref: str
    status: Literal["paid"]


class PaymentProvider(Protocol):
    """A payment provider: checkout references, signed callbacks, refunds."""
    name: str

    def new_ref(self) -> str: ...
    def checkout(self, ref: str, amount_cents: int) -> Checkout: ...
    def verify(self, body: dict[str, Any], signature: str) -> PaymentEvent: ...
    def refund(self, ref: str, amount_cents: int) -> None: ...


class SimulatedProvider:
    """The embedded provider: charges nothing, signs its callbacks with a key derived from the secret."""

    name = "simulated"

    def __init__(self, settings: SigningSettings) -> None:
        # A key of its own, derived from the service secret: a leaked token key cannot forge payments.
        self._key = hmac.new(settings.secret_key.encode(), b"payments:simulated", hashlib.sha256).digest()
        self.refunds: list[tuple[str, int]] = []

    def new_ref(self) -> str:
        return f"sim_{secrets.token_hex(12)}"

    def checkout(self, ref: str, amount_cents: int) -> Checkout:
        return Checkout(provider=self.name, ref=ref, amount_cents=amount_cents,
                        pay=f"/v1/payments/simulated/{ref}/pay")

    def sign(self, body: dict[str, Any]) -> str:
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        return hmac.new(self._key, canonical, hashlib.sha256).hexdigest()

    def verify(self, body: dict[str, Any], signature: str) -> PaymentEvent:
        if not hmac.compare_digest(self.sign(body), signature):
            raise Unauthorized("payment callback signature does not match")
        if body.get("status") != "paid" or not isinstance(body.get("ref"), str):
            raise Unauthorized("payment callback is not a payment")
        return PaymentEvent(body["ref"], "paid")

    def refund(self, ref: str, amount_cents: int) -> None:
        self.refunds.append((ref, amount_cents))
