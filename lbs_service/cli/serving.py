"""`lbs serve` and `lbs db upgrade`."""

import os
import shutil
import tempfile
from typing import Annotated, Any

import typer

from lbs_service.cli.common import err, fail, settings


def log_config(level: str, json_lines: bool = False) -> dict[str, Any]:
    """Uvicorn's logging plus our loggers (the access log among them), one line per record."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = {**LOGGING_CONFIG, "loggers": dict(LOGGING_CONFIG["loggers"])}
    if json_lines:
        config["formatters"] = {name: {"()": "lbs_service.log_format.JsonFormatter"}
                                for name in LOGGING_CONFIG["formatters"]}
    config["filters"] = {"no_query": {"()": "lbs_service.access_log.DropQueryStrings"}}
    config["handlers"] = {name: {**handler, "filters": ["no_query"]} for name, handler in
                          LOGGING_CONFIG["handlers"].items()}
    config["loggers"]["lbs"] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    config["loggers"]["lbs_service"] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    return config


def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="processes sharing the database and Redis")] = 1,
    log_level: Annotated[str, typer.Option(help="critical, error, warning, info or debug")] = "info",
) -> None:
    """Run HTTP and websockets; --workers N runs N processes sharing the database (and Redis)."""
    import uvicorn

    config = settings()
    if workers > 1 and not config.redis_url:
        fail("--workers > 1 needs LBS_REDIS_URL: the in-process broker cannot carry a push from one process "
             "to another")
    metrics_dir = None
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # One scrape reports every worker: prometheus-client's multiprocess mode, set before workers start.
        metrics_dir = tempfile.mkdtemp(prefix="lbs-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        # access_log=False: uvicorn would log query strings, which carry users' coordinates (see access_log.py).
        uvicorn.run(
            "lbs_service.asgi:app",
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            log_config=log_config(log_level, config.log_format == "json"),
            access_log=False,
            ws=config.ws_impl,
            ws_ping_interval=20.0,  # protocol pings: a dead peer is dropped within ping interval + timeout
            ws_ping_timeout=20.0,
            ws_max_size=65536,  # a larger frame closes the socket with 1009
            # Messages are a few hundred bytes: compressing each cost more CPU than the fix itself took
            # to evaluate, and a deflate context per socket held more memory than the socket.
            ws_per_message_deflate=False,
            proxy_headers=False,
            server_header=False,
            http="lbs_service.http_protocol:HeaderDeadlineProtocol",  # request headers have a deadline
        )
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def db_upgrade() -> None:
    """Create or migrate the schema (the PostGIS extension included)."""
    from lbs_service.storage.migrate import upgrade

    config = settings()
    upgrade(config)
    err.print(f"schema is up to date on {'PostgreSQL' if config.is_postgres else config.sqlite_path}")
