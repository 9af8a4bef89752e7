"""How many expensive requests may run at once: per worker, and one per principal.

An expensive request (coverage, gaps) that would exceed either limit is refused at once with 429
and Retry-After, never queued: a queue would only hold memory and the client's connection. A slot
is held from before the work starts until the last byte of a streamed answer has gone (or the
client has left).
"""

from lbs_service.errors import TooManyRequests


class Slot:
    def __init__(self, gate: "Gate", principal: str) -> None:
        self._gate, self._principal, self._held = gate, principal, True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._gate._running.discard(self._principal)


class Gate:
    def __init__(self, name: str, per_worker: int, retry_after_s: int = 5) -> None:
        self.name, self.per_worker, self.retry_after_s = name, per_worker, retry_after_s
        self._running: set[str] = set()

    def reserve(self, principal: str) -> Slot:
        if principal in self._running:
            raise TooManyRequests(f"one {self.name} request at a time: yours is still running", self.retry_after_s)
        if len(self._running) >= self.per_worker:
            raise TooManyRequests(f"{self.name} is busy with {len(self._running)} requests; try again shortly",
                                  self.retry_after_s)
        self._running.add(principal)
        return Slot(self, principal)

    @property
    def running(self) -> int:
        return len(self._running)
