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
