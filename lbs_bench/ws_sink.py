"""A bare ASGI websocket endpoint under uvicorn: it reads each text message, parses its JSON and keeps
nothing. `lbs bench ws-floor` measures what a message costs the server here, the floor under any fix
our user socket handles. A ping is answered with how many messages the socket delivered, so the
benchmark knows that every message was read."""

from typing import Any

import orjson


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "websocket":
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    received = 0
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text == '{"type":"ping"}':
            answer = orjson.dumps({"type": "pong", "received": received}).decode()
            await send({"type": "websocket.send", "text": answer})
            continue
        orjson.loads(text if text is not None else message["bytes"])
        received += 1
