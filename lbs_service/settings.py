"""Settings from the environment (prefix LBS_), with embedded defaults that run on a bare machine."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET_KEY = "dev-insecure-secret-change-me-in-production"
DEFAULT_SQLITE_PATH = Path.home() / ".local" / "share" / "lbs" / "lbs.sqlite3"
# Where `npm ci` put the front-end libraries: beside the project in a checkout.
DEFAULT_NODE_MODULES = Path(__file__).resolve().parents[1] / "node_modules"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LBS_", env_file=".env", extra="ignore")

    env: str = Field("development", description="'production' refuses default secrets")
    database_url: str = Field("", description="unset: an embedded SQLite file")
    sqlite_path: Path = DEFAULT_SQLITE_PATH
    redis_url: str = Field("", description="unset: an in-process broker")
    redis_cluster: bool = Field(False, description="LBS_REDIS_URL names a node of a Redis Cluster")
    redis_prefix: str = Field("lbs", pattern=r"^[A-Za-z0-9_-]{1,32}$", description="namespace of our Redis keys")
    secret_key: str = DEV_SECRET_KEY
    token_issuer: str = "lbs"
    token_audience: str = "lbs-api"
    token_ttl_s: int = 24 * 3600
    revocation_poll_s: float = Field(15.0, gt=0, le=60, description="how soon every worker honours a revocation")

    fence_radius_m: float = 1000.0
    fence_exit_radius_m: float | None = None
    fence_dwell_s: float = 0.0
    fence_max_accuracy_m: float = 200.0  # 0 disables the accuracy filter
    fence_max_speed_mps: float = 0.0
    log_format: Literal["text", "json"] = Field("text", description="json: one object per line with request ids")
    fix_retention_s: int = Field(24 * 3600, ge=60, description="raw fixes (the fence checkpoint) expire after this")
    rate_limits: bool = Field(True, description="per-user limits on fixes, claims, redemptions, orders, requests")
    rate_limit_rules: dict[str, tuple[int, int]] = Field(
        default_factory=dict, description='overrides, action -> [limit, window_s], e.g. {"fix": [60, 10]}')

    stream_reconcile_s: float = Field(5.0, gt=0, description="how often watched channels are checked against "
                                      "their streams for messages pub/sub never announced")
    stream_retention: int = Field(10_000, ge=10, description="messages kept per channel for replay")
    # wsproto holds an idle socket in ~30 KB against ~65 KB for websockets-sansio (measured: lbs bench ws).
    ws_impl: Literal["wsproto", "websockets-sansio", "websockets"] = "wsproto"
    ws_queue_limit: int = Field(1000, ge=10, description="messages a slow websocket may fall behind")
    member_tiers: dict[str, int] = Field(default_factory=lambda: {"silver": 3, "gold": 10},
                                         description="tier -> visits (redemptions and pickups) needed")
    rebate_gradient: list[tuple[int, int, int]] = Field(
        default_factory=lambda: [(0, 1, 0), (100_000, 2, 50), (1_000_000, 3, 100), (5_000_000, 4, 150),
                                 (20_000_000, 5, 200)],
        description="[min monthly volume in cents, stars, rebate in basis points], rising")
    order_payment_timeout_s: float = Field(900.0, gt=0, description="unpaid orders are cancelled after this")
    demand_retention_days: int = Field(90, ge=1, description="demand rows (cell, day, user hash) kept this long")
    demand_min_users: int = Field(5, ge=1, description="k: cells with fewer distinct users are suppressed")
    change_feed_poll_s: float = Field(0.25, gt=0, le=1.0)
    cors_origins: list[str] = []
    node_modules_dir: Path = Field(DEFAULT_NODE_MODULES, description="front-end libraries installed by npm ci")

    @field_validator("cors_origins")
    @classmethod
    def _named_origins_only(cls, origins: list[str]) -> list[str]:
        # Browsers send the bearer token from the portal's own pages; a wildcard would let any site do it.
        if any(origin.strip() == "*" or not origin.startswith(("http://", "https://")) for origin in origins):
            raise ValueError("LBS_CORS_ORIGINS lists origins such as https://portal.example, never '*'")
        return [origin.rstrip("/") for origin in origins]

    @field_validator("database_url")
    @classmethod
    def _accept_plain_postgres(cls, url: str) -> str:
        # A plain postgresql:// URL means psycopg 3 here (SQLAlchemy would pick psycopg2).
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    @model_validator(mode="after")
    def _refuse_default_secret_in_production(self) -> "Settings":
        if self.env == "production" and self.secret_key == DEV_SECRET_KEY:
            raise ValueError("LBS_SECRET_KEY must be set to a real secret when LBS_ENV=production")
        return self

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.sqlite_path}"

    @property
    def is_postgres(self) -> bool:
        return self.effective_database_url.startswith("postgresql")

    @property
    def exit_radius_m(self) -> float:
        return self.fence_exit_radius_m if self.fence_exit_radius_m is not None else self.fence_radius_m + 100.0


@lru_cache
def get_settings() -> Settings:
    return Settings()
