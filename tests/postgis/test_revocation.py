"""A revoked staff member loses REST and websocket access on every worker within one poll
(LBS_REVOCATION_POLL_S, at most 60 s; 0.5 s here), and a token issued afterwards works."""

import asyncio
import json
import os
import time
import uuid

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from lbs_service.settings import Settings
from tests.conftest import forget_redis_prefix
from tests.faults.scenario import row_of_stores
from tests.live import token, ws_connect
from tests.processes import lbs_servers

pytestmark = pytest.mark.postgis


def test_revoked_staff_lose_rest_and_websockets_on_every_worker(pg_settings):
    prefix = f"revoke{uuid.uuid4().hex[:6]}"
    redis_url = os.environ["LBS_TEST_REDIS_URL"]
    settings = Settings(database_url=pg_settings.database_url, redis_url=redis_url, redis_prefix=prefix)
    store = row_of_stores(settings)[0]
    env = {"LBS_DATABASE_URL": settings.database_url, "LBS_REDIS_URL": redis_url, "LBS_REDIS_PREFIX": prefix,
           "LBS_REVOCATION_POLL_S": "0.5", "LBS_SECRET_KEY": settings.secret_key}
    old = token(settings, "staff", "staff-leaver", store)
    operator = {"Authorization": f"Bearer {token(settings, 'operator', 'ops')}"}
    try:
        with lbs_servers(env, 2) as (first, second):
            def redeem(host: str, credential: str) -> int:
                return httpx.post(f"http://{host}/v1/stores/{store}/redemptions", json={"code": "NOSUCHCODE1"},
                                  headers={"Authorization": f"Bearer {credential}"}).status_code

            assert redeem(second, old) == 404  # allowed in: the code simply does not exist

            async def run() -> tuple[float, int | None]:
                async with ws_connect(second, f"/v1/ws/stores/{store}?token={old}") as console:
                    await console.send('{"type":"ping"}')
                    assert json.loads(await console.recv())["type"] == "pong"
                    revoked = httpx.post(f"http://{first}/v1/tokens/revocations", headers=operator,
                                         json={"subject": "staff-leaver", "reason": "left the company"})
                    assert revoked.status_code == 201, revoked.text
                    started = time.monotonic()
                    assert redeem(first, old) == 401  # the worker that took the revocation: at once
                    while redeem(second, old) != 401 and time.monotonic() - started < 10:
                        await asyncio.sleep(0.1)
                    rest_after = time.monotonic() - started
                    code = None
                    with pytest.raises(ConnectionClosed) as closed:
                        while True:
                            await asyncio.wait_for(console.recv(), 10)
                    code = closed.value.rcvd.code if closed.value.rcvd else None
                    return rest_after, code

            rest_after, close_code = asyncio.run(run())
            assert rest_after < 3 and close_code == 4401  # revoked: sign in again, the same code as at connect
            time.sleep(1.1)  # a token issued after the revocation second
            fresh = token(settings, "staff", "staff-leaver", store)
            assert redeem(first, fresh) == 404 and redeem(second, fresh) == 404
            staff = {"Authorization": f"Bearer {fresh}"}
            refused = httpx.post(f"http://{first}/v1/tokens/revocations", headers=staff, json={"subject": "ops"})
            assert refused.status_code == 403  # only operators revoke
    finally:
        forget_redis_prefix(redis_url, prefix)
