"""The compose deployment as docs/operations.md describes it (Docker is not run here, so its
files are checked for the properties the docs promise)."""

from pathlib import Path

import yaml

DOCKER = Path(__file__).resolve().parents[1] / "docker"


def test_compose_runs_two_app_replicas_behind_a_health_checked_proxy():
    services = yaml.safe_load((DOCKER / "compose.yaml").read_text())["services"]
    assert set(services) >= {"postgis", "redis", "app", "proxy"}
    app, proxy = services["app"], services["proxy"]
    assert app["deploy"]["replicas"] >= 2
    assert "ports" not in app  # reached through the proxy only
    assert "/readyz" in " ".join(app["healthcheck"]["test"])
    assert app["depends_on"]["postgis"]["condition"] == "service_healthy"
    assert app["environment"]["LBS_REDIS_URL"].startswith("redis://")  # replicas share the push backplane
    assert proxy["depends_on"]["app"]["condition"] == "service_healthy" and "healthcheck" in proxy
    assert all("healthcheck" in services[name] for name in ("postgis", "redis"))


def test_proxy_passes_websockets_caps_bodies_and_logs_no_query_strings():
    conf = (DOCKER / "nginx.conf").read_text()
    assert "proxy_set_header Upgrade $http_upgrade;" in conf
    assert "client_max_body_size 64k;" in conf
    log_format = next(line for line in conf.splitlines() if "log_format" in line)
    assert "$uri" in log_format and "$request " not in log_format and "$args" not in log_format
    dockerfile = (DOCKER / "Dockerfile").read_text()
    assert "lbs db upgrade && lbs serve" in dockerfile  # every replica migrates at start (they take turns)
