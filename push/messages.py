"""Messages on a channel: a JSON object whose `id` grows within its channel; the broker assigns it."""

from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True)
class Message:
    channel: str
    id: int
    body: dict[str, Any]  # without the id

    def to_client(self) -> dict[str, Any]:
        return {**self.body, "id": self.id}

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
