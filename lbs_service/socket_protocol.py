"""The websocket protocol, in one place for the server and the pages.

Close codes, what a client should do after each (reconnect with its last id, or stop), and the
message types each socket carries. The pages load it as a script the app generates from this module
(`/protocol.js`), so a code renamed here cannot drift from what the pages expect.
"""

from typing import Any

import orjson

CLOSE_UNAUTHORIZED = 4401  # no token, a bad one, or a revoked one: sign in again
CLOSE_FORBIDDEN = 4403  # a token for another store, a wrong role, an origin not allowed
CLOSE_TOO_SLOW = 4008  # the client fell a full queue behind: reconnect with last_id
CLOSE_TRY_AGAIN = 1013  # the backplane is away: reconnect shortly
CLOSE_UNSUPPORTED = 1003  # binary frames: this protocol speaks JSON text

# Codes after which reconnecting with the same token cannot help.
FINAL_CODES = (CLOSE_UNAUTHORIZED, CLOSE_FORBIDDEN)

USER_SENDS = ("location", "ping")
USER_RECEIVES = ("promotion", "staff_reply", "order", "reset", "pong", "error")
STAFF_SENDS = ("ack", "reply", "ping")
STAFF_RECEIVES = ("arrival", "visit", "demand", "acked", "escalate", "order", "reset", "pong", "error")
RECONNECT = {"first_delay_ms": 300, "max_delay_ms": 10_000, "factor": 2}


def description() -> dict[str, Any]:
    return {
        "close": {"unauthorized": CLOSE_UNAUTHORIZED, "forbidden": CLOSE_FORBIDDEN, "too_slow": CLOSE_TOO_SLOW,
                  "try_again": CLOSE_TRY_AGAIN, "unsupported": CLOSE_UNSUPPORTED},
        "final": list(FINAL_CODES),
        "user": {"sends": list(USER_SENDS), "receives": list(USER_RECEIVES)},
        "staff": {"sends": list(STAFF_SENDS), "receives": list(STAFF_RECEIVES)},
        "reconnect": RECONNECT,
    }


def as_script() -> bytes:
    """The protocol for the pages: `window.lbsProtocol = {...}`."""
    return b'"use strict";\nwindow.lbsProtocol = Object.freeze(' + orjson.dumps(description()) + b");\n"
