"""Shared fixtures: settings for the embedded default (SQLite file) and for the real PostGIS."""

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from lbs_service.app import create_app
from lbs_service.auth import Principal, mint_token
from lbs_service.settings import Settings
from lbs_service.storage.migrate import upgrade
from tests.clock import fixed_clock

REQUIRE_SERVICES = os.environ.get("LBS_REQUIRE_SERVICES") == "1"
TABLES = (
    "game_plays", "game_play_days", "game_prizes", "games", "points_entries", "points_balances", "bill_payments",
    "webpush_deliveries", "push_subscriptions", "server_keys",
    "visits", "payments", "token_revocations", "demand_cells", "districts", "reviews", "order_lines", "orders", "stock",
    "skus", "member_events", "idempotency_keys", "redemptions", "coupons", "outbox", "promotions", "campaigns",
    "user_preferences", "consents", "store_changes", "stores", "merchants",
)


def need_installed(found: object, what: str) -> None:
    """A program the test command installs: without it, fail under LBS_REQUIRE_SERVICES=1 (CI), else skip."""
    if not found:
        if REQUIRE_SERVICES:
            pytest.fail(f"{what} is missing but LBS_REQUIRE_SERVICES=1 (scripts/test.sh installs it)")
        pytest.skip(f"{what} is not installed: run `bash scripts/test.sh`, which installs it")


def _service_url(name: str) -> str:
    url = os.environ.get(name, "")
    if not url:
        if REQUIRE_SERVICES:
            pytest.fail(f"{name} is not set but LBS_REQUIRE_SERVICES=1")
        pytest.skip(f"{name} is not set: run `bash scripts/test.sh`, which starts PostGIS and Redis")
    return url


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    settings = Settings(database_url="", sqlite_path=tmp_path / "lbs.sqlite3", redis_url="", change_feed_poll_s=0.05)
    upgrade(settings)
    return settings


@pytest.fixture(scope="session")
def _migrated_postgis() -> str:
    url = _service_url("LBS_TEST_DATABASE_URL")
    upgrade(Settings(database_url=url))
    return url


@pytest.fixture
def pg_settings(_migrated_postgis: str) -> Iterator[Settings]:
    settings = Settings(database_url=_migrated_postgis, redis_url="", change_feed_poll_s=0.05)
    engine = create_engine(settings.effective_database_url)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    engine.dispose()
    yield settings


def forget_redis_prefix(url: str, prefix: str) -> None:
    """Delete the keys a test wrote under its own prefix (never anyone else's)."""
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


def client_for(settings: Settings) -> TestClient:
    """The app on a clock that starts at T0 (tests/clock.py)."""
    return TestClient(create_app(settings, fixed_clock()))


@pytest.fixture
def sqlite_client(sqlite_settings: Settings) -> Iterator[TestClient]:
    with client_for(sqlite_settings) as client:
        yield client


@pytest.fixture
def pg_client(pg_settings: Settings) -> Iterator[TestClient]:
    with client_for(pg_settings) as client:
        yield client


def operator_headers(settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings, Principal('operator', 'operator'))}"}


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The fault-and-abuse runs of this session, one line each (tests/faults/report.py)."""
    from tests.faults.report import RUNS

    if not RUNS:
        return
    write = terminalreporter.write_line
    terminalreporter.section("fault and abuse runs")
    write(f"{'run':<46} {'requests':>9} {'5xx':>4} {'503':>5} {'committed':>9} {'lost':>5} {'dupes':>6} {'leaks':>6}")
    for run in RUNS:
        write(f"{run.name:<46} {run.requests:>9} {run.server_errors:>4} {run.unavailable:>5} {run.committed:>9} "
              f"{run.lost:>5} {run.duplicates:>6} {run.leaks:>6}")
