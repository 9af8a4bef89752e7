"""How many expensive requests may run at once: per worker, and per principal (a planner page asks
for a district's cells and its gaps together, so two).

An expensive request (coverage, gaps) that would exceed either limit is refused at once with 429
and Retry-After, never queued: a queue would only hold memory and the client's connection. A slot
is held from before the work starts until the last byte of a streamed answer has gone (or the
client has left).
"""

from collections import Counter

from lbs_service.errors import TooManyRequests


class Slot:
    def __init__(self, gate: "Gate", principal: str) -> None:
        self._gate, self._principal, self._held = gate, principal, True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._gate._running[self._principal] -= 1
            if not self._gate._running[self._principal]:
                del self._gate._running[self._principal]


class Gate:
    """Admits an expensive request only while its worker and its principal have a free slot."""

    def __init__(self, name: str, per_worker: int, per_principal: int = 1, retry_after_s: int = 5) -> None:
        self.name, self.per_worker, self.per_principal = name, per_worker, per_principal
        self.retry_after_s = retry_after_s
        self._running: Counter[str] = Counter()

    def reserve(self, principal: str) -> Slot:
        if self._running[principal] >= self.per_principal:
            raise TooManyRequests(f"at most {self.per_principal} {self.name} requests at a time: yours are still "
                                  "running", self.retry_after_s)
        if self.running >= self.per_worker:
            raise TooManyRequests(f"{self.name} is busy with {self.running} requests; try again shortly",
                                  self.retry_after_s)
        self._running[principal] += 1
        return Slot(self, principal)

    @property
    def running(self) -> int:
        return sum(self._running.values())
