"""The pseudonym a store's staff see for a customer.

An HMAC of (store, user) under the server's secret: stable for one store, so a returning customer
is recognisable there, but unlinkable across stores and never the user id.
"""

import hashlib
import hmac


def user_ref(secret: str, store_id: int, user_id: str) -> str:
    digest = hmac.new(secret.encode(), f"{store_id}:{user_id}".encode(), hashlib.sha256).hexdigest()
    return f"u-{digest[:12]}"
