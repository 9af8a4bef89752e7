"""The VAPID key (RFC 8292): the application server key browsers subscribe with, and the signature
on every push that proves a push came from us.

An operator sets LBS_VAPID_PRIVATE_KEY; without it, the first worker to start makes one and keeps it
in the database, so every worker (and every restart) signs with the same key - a new key would
orphan every subscription browsers made with the old one.
"""

import base64
import time
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02
from sqlalchemy import select

from lbs_service.storage.db import Database, insert_for
from lbs_service.storage.models import ServerKey

KEY_NAME = "vapid"
TOKEN_LIFETIME_S = 12 * 3600  # RFC 8292 allows at most 24 h


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


class VapidKey:
    """Signs the VAPID header of a push to one endpoint."""

    def __init__(self, vapid: Vapid02, subject: str) -> None:
        self._vapid = vapid
        self.subject = subject
        point = vapid.public_key.public_bytes(serialization.Encoding.X962,
                                              serialization.PublicFormat.UncompressedPoint)
        self.public_key = b64url(point)  # what pushManager.subscribe takes as applicationServerKey

    def authorization(self, endpoint: str) -> str:
        """The Authorization header value: `vapid t=<ES256 JWT>, k=<public key>`.

        `exp` is on the wall clock, as every security timestamp here: a push service checks it
        against the real time."""
        parts = urlsplit(endpoint)
        claims = {"aud": f"{parts.scheme}://{parts.netloc}", "exp": int(time.time()) + TOKEN_LIFETIME_S,
                  "sub": self.subject}
        header: str = self._vapid.sign(claims)["Authorization"]
        return header


def new_private_key() -> str:
    """A fresh P-256 private key as base64url of its 32 raw bytes."""
    key = ec.generate_private_key(ec.SECP256R1())
    return b64url(key.private_numbers().private_value.to_bytes(32, "big"))


def read_private_key(text: str) -> Vapid02:
    try:
        return Vapid02.from_string(text.strip())
    except Exception as error:
        raise ValueError("LBS_VAPID_PRIVATE_KEY is not a P-256 private key (base64url raw or DER)") from error


def load_vapid_key(db: Database, configured: str, subject: str) -> VapidKey:
    """The configured key, or the one kept in the database (made now if there is none yet); it signs
    once here, so a key or subject push services would refuse stops the start, not every push."""
    key = VapidKey(read_private_key(configured or _kept_key(db)), subject)
    key.authorization("https://push.example/")
    return key


def _kept_key(db: Database) -> str:
    with db.transaction() as session:
        session.execute(insert_for(db.is_postgres)(ServerKey).values(name=KEY_NAME, value=new_private_key())
                        .on_conflict_do_nothing())
    with db.session() as session:
        stored = session.scalar(select(ServerKey.value).where(ServerKey.name == KEY_NAME))
    assert stored is not None, "the VAPID key row was just written"
    return stored
