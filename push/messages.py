"""Messages on a channel: a JSON object with an `id` that only grows within its channel.

The broker gives each message its id and records the id of the message before it (`prev`), so
the messages of a channel form a chain. A subscriber that has seen up to id N accepts a message
whose prev is N; any other prev means it missed something (read the gap from the stream) or the
stream itself was lost or rewound (a Redis restart without data, a failover to a replica that is
behind): then the chain cannot be mended and the subscriber is told to reset. Ids are
max(prev + 1, the broker's clock in microseconds), so a stream that starts over never hands out
an id that an older stream already gave.
"""

from dataclasses import dataclass
from typing import Any

import orjson

RESET_DETAIL = "messages after last_id are gone; reload"


@dataclass(frozen=True)
class Message:
    """One message on a channel, chained to the one before it so a gap can be seen."""
    channel: str
    id: int  # 0 only for a reset notice, which has no place in the chain
    body: dict[str, Any]  # without the id
    prev: int = 0  # the id of the message before it on this channel (0: the stream starts here)

    @classmethod
    def reset(cls, channel: str) -> "Message":
        return cls(channel, 0, {"type": "reset", "detail": RESET_DETAIL})

    @property
    def is_reset(self) -> bool:
        return self.id == 0

    def to_client(self) -> dict[str, Any]:
        return dict(self.body) if self.is_reset else {**self.body, "id": self.id}

    def encode(self) -> bytes:
        return orjson.dumps(self.to_client())


def encode_body(body: dict[str, Any]) -> bytes:
    return orjson.dumps(body)


def decode_body(raw: bytes | str) -> dict[str, Any]:
    body = orjson.loads(raw)
    if not isinstance(body, dict):
        raise ValueError("a message body is a JSON object")
    return body


def store_channel(store_id: int) -> str:
    return f"store:{store_id}"


def user_channel(user_id: str) -> str:
    return f"user:{user_id}"
