"""All configuration, read once from the environment, with embedded defaults that need no services."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

DEFAULT_DATA_DIR = Path(os.environ.get("MARKETPLACE_DATA_DIR", "var"))


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _int(name: str, default: int) -> int:
    raw = _env(name)
    return int(raw) if raw is not None else default


def _float(name: str, default: float) -> float:
    raw = _env(name)
    return float(raw) if raw is not None else default


def _bool(name: str, default: bool) -> bool:
    raw = _env(name)
    return default if raw is None else raw.lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class MatchWeights:
    category_fit: float = 0.25
    locality: float = 0.20
    provider_record: float = 0.15
    freshness: float = 0.10
    funding: float = 0.10
    continuity: float = 0.10
    capacity: float = 0.10


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str
    field_key: str
    redis_url: str | None
    task_always_eager: bool
    meili_url: str | None
    meili_key: str | None
    search_path: str
    stripe_api_key: str
    stripe_webhook_secret: str
    stripe_api_base: str | None
    host: str = "127.0.0.1"
    port: int = 8000
    debug: bool = False
    token_ttl_seconds: int = 12 * 3600
    login_rate_limit_per_minute: int = 10
    sqlite_busy_timeout_ms: int = 30_000
    referral_sla_hours: int = 48
    visit_interval_days: dict[str, int] = field(
        default_factory=lambda: {"critical": 7, "high": 14, "medium": 30, "low": 90}
    )
    stale_listing_days: int = 180
    match_weights: MatchWeights = field(default_factory=MatchWeights)
    timezone: str = "Asia/Shanghai"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def async_database_url(self) -> str:
        return to_async_url(self.database_url)

    @property
    def sync_database_url(self) -> str:
        return to_sync_url(self.database_url)


def to_async_url(url: str) -> str:
    if url.startswith("sqlite:"):
        return "sqlite+aiosqlite:" + url.removeprefix("sqlite:")
    for prefix in ("postgresql+psycopg:", "postgresql+asyncpg:", "postgresql:", "postgres:"):
        if url.startswith(prefix):
            return "postgresql+asyncpg:" + url.removeprefix(prefix)
    return url


def to_sync_url(url: str) -> str:
    if url.startswith("sqlite+aiosqlite:"):
        return "sqlite:" + url.removeprefix("sqlite+aiosqlite:")
    for prefix in ("postgresql+asyncpg:", "postgresql+psycopg:", "postgresql:", "postgres:"):
        if url.startswith(prefix):
            return "postgresql+psycopg:" + url.removeprefix(prefix)
    return url


def load_settings() -> Settings:
    data_dir = DEFAULT_DATA_DIR
    database_url = _env("MARKETPLACE_DATABASE_URL", f"sqlite:///{data_dir / 'marketplace.db'}")
    assert database_url is not None
    default_search = str(data_dir / "search.db")
    redis_url = _env("REDIS_URL")
    return Settings(
        database_url=database_url,
        secret_key=_env("MARKETPLACE_SECRET_KEY", "dev-secret-key-change-me-in-production-0123456789") or "",
        field_key=_env("MARKETPLACE_FIELD_KEY", "ZGV2LWZpZWxkLWtleS1jaGFuZ2UtbWUtMDEyMzQ1Njc=") or "",
        redis_url=redis_url,
        # Without a broker the tasks run in process right after commit (the embedded default).
        task_always_eager=_bool("MARKETPLACE_TASKS_EAGER", redis_url is None),
        meili_url=_env("MEILI_URL"),
        meili_key=_env("MEILI_KEY"),
        search_path=_env("MARKETPLACE_SEARCH_PATH", default_search) or default_search,
        stripe_api_key=_env("STRIPE_API_KEY", "sk_test_localstripe") or "",
        stripe_webhook_secret=_env("STRIPE_WEBHOOK_SECRET", "whsec_dev_secret") or "",
        stripe_api_base=_env("STRIPE_API_BASE"),
        host=_env("HOST", "127.0.0.1") or "127.0.0.1",
        port=_int("PORT", 8000),
        debug=_bool("MARKETPLACE_DEBUG", False),
        token_ttl_seconds=_int("MARKETPLACE_TOKEN_TTL", 12 * 3600),
        login_rate_limit_per_minute=_int("MARKETPLACE_LOGIN_RATE_LIMIT", 10),
        referral_sla_hours=_int("MARKETPLACE_REFERRAL_SLA_HOURS", 48),
        stale_listing_days=_int("MARKETPLACE_STALE_LISTING_DAYS", 180),
        match_weights=MatchWeights(
            category_fit=_float("MATCH_W_CATEGORY_FIT", MatchWeights.category_fit),
            locality=_float("MATCH_W_LOCALITY", MatchWeights.locality),
            provider_record=_float("MATCH_W_PROVIDER_RECORD", MatchWeights.provider_record),
            freshness=_float("MATCH_W_FRESHNESS", MatchWeights.freshness),
            funding=_float("MATCH_W_FUNDING", MatchWeights.funding),
            continuity=_float("MATCH_W_CONTINUITY", MatchWeights.continuity),
            capacity=_float("MATCH_W_CAPACITY", MatchWeights.capacity),
        ),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
