"""Location is sensitive: a nearby search must not leave the user's coordinates in the logs."""

import logging

from tests.conftest import client_for


def test_request_logs_hold_no_coordinates(sqlite_settings, caplog):
    caplog.set_level(logging.DEBUG)
    with client_for(sqlite_settings) as client:
        response = client.get("/v1/stores/nearby", params={"lat": 32.0416789, "lng": 118.7784321, "radius_m": 800})
        assert response.status_code == 200 and response.headers["x-request-id"]
        client.get("/v1/stores/nearby", params={"lat": "91.123456", "lng": 118.7784321})
    # The test's own HTTP client (httpx) logs the URL it sends; only the server's records count.
    text = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    assert "GET /v1/stores/nearby 200" in text
    assert "32.04" not in text and "118.77" not in text and "91.12" not in text


def test_server_logs_drop_tokens_and_coordinates_from_urls(sqlite_settings, tmp_path):
    """Run `lbs serve` for real and read what it wrote."""
    import asyncio
    import os
    import subprocess
    import sys
    import time

    import httpx

    from tests.live import free_port, token, ws_connect

    port = free_port()
    env = {**os.environ, "LBS_SQLITE_PATH": str(sqlite_settings.sqlite_path), "LBS_DATABASE_URL": ""}
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        server = subprocess.Popen([sys.executable, "-m", "lbs_service.cli", "serve", "--port", str(port)], env=env,
                                  stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        httpx.get(f"http://127.0.0.1:{port}/v1/stores/nearby", params={"lat": 32.0416789, "lng": 118.7784321})
        secret = token(sqlite_settings, "user", "zed")

        async def touch() -> None:
            async with ws_connect(f"127.0.0.1:{port}", f"/v1/ws/user?token={secret}&lat=32.0416789") as ws:
                await ws.send('{"type":"ping"}')
                await ws.recv()

        asyncio.run(touch())
    finally:
        server.terminate()
        server.wait(15)
    text = log_path.read_text()
    assert "WebSocket /v1/ws/user" in text and "/v1/stores/nearby" in text
    assert secret[:20] not in text and "32.04" not in text and "118.77" not in text
