"""All configuration, read once from the environment, with embedded defaults that need no services.

This module is the only one that reads the environment: every variable the code uses is declared in
``ENVIRONMENT_VARIABLES`` and read by ``load_settings`` (reading an undeclared name is an error). README.md's settings
table lists the same names; tests/test_settings.py fails when the two disagree or when another module reads
``os.environ``.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Final

# Every environment variable the code reads, in the order README.md's settings table lists them.
ENVIRONMENT_VARIABLES: Final[tuple[str, ...]] = (
    "MARKETPLACE_DATA_DIR",
    "MARKETPLACE_DATABASE_URL",
    "MARKETPLACE_SEARCH_PATH",
    "MEILI_URL",
    "MEILI_KEY",
    "REDIS_URL",
    "MARKETPLACE_TASKS_EAGER",
    "STRIPE_API_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "STRIPE_API_BASE",
    "MARKETPLACE_SECRET_KEY",
    "MARKETPLACE_FIELD_KEY",
    "HOST",
    "PORT",
    "MARKETPLACE_DEBUG",
    "MARKETPLACE_TOKEN_TTL",
    "MARKETPLACE_LOGIN_RATE_LIMIT",
    "MARKETPLACE_REFERRAL_SLA_HOURS",
    "MARKETPLACE_STALE_LISTING_DAYS",
    "MATCH_W_CATEGORY_FIT",
    "MATCH_W_LOCALITY",
    "MATCH_W_PROVIDER_RECORD",
    "MATCH_W_FRESHNESS",
    "MATCH_W_FUNDING",
    "MATCH_W_CONTINUITY",
    "MATCH_W_CAPACITY",
    "PROCUREMENT_CENTRALISED_THRESHOLD_FEN",
    "PROCUREMENT_OPEN_TENDER_THRESHOLD_FEN",
    "PROCUREMENT_ADDON_CAP_PERCENT",
    "PROCUREMENT_TERM_REASON_AFTER_MONTHS",
    "PROCUREMENT_MAX_TERM_MONTHS",
    "PROCUREMENT_PUBLICITY_WORKING_DAYS",
    "PROCUREMENT_PRICE_WEIGHT_PERCENT",
    "PROCUREMENT_OCID_PREFIX",
    "PROCUREMENT_BUYER_NAME",
    "PROCUREMENT_HOLIDAYS",
)


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
class ProcurementRules:
    """The procurement thresholds (marketplace.procurement.rules explains each); amounts in fen."""

    centralised_threshold_fen: int = 100_000_000  # 100万元
    open_tender_threshold_fen: int = 400_000_000  # 400万元
    addon_cap_percent: int = 10
    term_reason_after_months: int = 12
    max_term_months: int = 36
    publicity_working_days: int = 5
    # 财政部令第87号: for services the price weight is 10%-30% of the comprehensive score.
    price_weight_percent: int = 30
    ocid_prefix: str = "ocds-ft0001-"
    buyer_name: str = "深圳市福田区民政局"
    # Public holidays on which the publicity period does not run (weekends never count).
    holidays: frozenset[dt.date] = field(default_factory=frozenset)


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
    procurement: ProcurementRules = field(default_factory=ProcurementRules)
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


class _Environment:
    """Typed reads of the declared variables; an empty value counts as unset."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def raw(self, name: str) -> str | None:
        if name not in ENVIRONMENT_VARIABLES:
            raise KeyError(f"{name} is not declared in marketplace.settings.ENVIRONMENT_VARIABLES")
        value = self._environ.get(name)
        return value if value else None

    def text(self, name: str, default: str) -> str:
        return self.raw(name) or default

    def integer(self, name: str, default: int) -> int:
        raw = self.raw(name)
        return int(raw) if raw is not None else default

    def number(self, name: str, default: float) -> float:
        raw = self.raw(name)
        return float(raw) if raw is not None else default

    def flag(self, name: str, default: bool) -> bool:
        raw = self.raw(name)
        return default if raw is None else raw.lower() in {"1", "true", "yes", "on"}

    def dates(self, name: str) -> frozenset[dt.date]:
        raw = self.raw(name) or ""
        return frozenset(dt.date.fromisoformat(x.strip()) for x in raw.split(",") if x.strip())


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from ``environ`` (default: the process environment), each unset variable taking its default."""
    env = _Environment(os.environ if environ is None else environ)
    data_dir = Path(env.text("MARKETPLACE_DATA_DIR", "var"))
    default_search = str(data_dir / "search.db")
    redis_url = env.raw("REDIS_URL")
    p = ProcurementRules()
    return Settings(
        database_url=env.text("MARKETPLACE_DATABASE_URL", f"sqlite:///{data_dir / 'marketplace.db'}"),
        secret_key=env.text("MARKETPLACE_SECRET_KEY", "dev-secret-key-change-me-in-production-0123456789"),
        field_key=env.text("MARKETPLACE_FIELD_KEY", "ZGV2LWZpZWxkLWtleS1jaGFuZ2UtbWUtMDEyMzQ1Njc="),
        redis_url=redis_url,
        # Without a broker the tasks run in process right after commit (the embedded default).
        task_always_eager=env.flag("MARKETPLACE_TASKS_EAGER", redis_url is None),
        meili_url=env.raw("MEILI_URL"),
        meili_key=env.raw("MEILI_KEY"),
        search_path=env.text("MARKETPLACE_SEARCH_PATH", default_search),
        stripe_api_key=env.text("STRIPE_API_KEY", "sk_test_localstripe"),
        stripe_webhook_secret=env.text("STRIPE_WEBHOOK_SECRET", "whsec_dev_secret"),
        stripe_api_base=env.raw("STRIPE_API_BASE"),
        host=env.text("HOST", "127.0.0.1"),
        port=env.integer("PORT", 8000),
        debug=env.flag("MARKETPLACE_DEBUG", False),
        token_ttl_seconds=env.integer("MARKETPLACE_TOKEN_TTL", 12 * 3600),
        login_rate_limit_per_minute=env.integer("MARKETPLACE_LOGIN_RATE_LIMIT", 10),
        referral_sla_hours=env.integer("MARKETPLACE_REFERRAL_SLA_HOURS", 48),
        stale_listing_days=env.integer("MARKETPLACE_STALE_LISTING_DAYS", 180),
        match_weights=MatchWeights(
            category_fit=env.number("MATCH_W_CATEGORY_FIT", MatchWeights.category_fit),
            locality=env.number("MATCH_W_LOCALITY", MatchWeights.locality),
            provider_record=env.number("MATCH_W_PROVIDER_RECORD", MatchWeights.provider_record),
            freshness=env.number("MATCH_W_FRESHNESS", MatchWeights.freshness),
            funding=env.number("MATCH_W_FUNDING", MatchWeights.funding),
            continuity=env.number("MATCH_W_CONTINUITY", MatchWeights.continuity),
            capacity=env.number("MATCH_W_CAPACITY", MatchWeights.capacity),
        ),
        procurement=ProcurementRules(
            centralised_threshold_fen=env.integer("PROCUREMENT_CENTRALISED_THRESHOLD_FEN", p.centralised_threshold_fen),
            open_tender_threshold_fen=env.integer("PROCUREMENT_OPEN_TENDER_THRESHOLD_FEN", p.open_tender_threshold_fen),
            addon_cap_percent=env.integer("PROCUREMENT_ADDON_CAP_PERCENT", p.addon_cap_percent),
            term_reason_after_months=env.integer("PROCUREMENT_TERM_REASON_AFTER_MONTHS", p.term_reason_after_months),
            max_term_months=env.integer("PROCUREMENT_MAX_TERM_MONTHS", p.max_term_months),
            publicity_working_days=env.integer("PROCUREMENT_PUBLICITY_WORKING_DAYS", p.publicity_working_days),
            price_weight_percent=env.integer("PROCUREMENT_PRICE_WEIGHT_PERCENT", p.price_weight_percent),
            ocid_prefix=env.text("PROCUREMENT_OCID_PREFIX", p.ocid_prefix),
            buyer_name=env.text("PROCUREMENT_BUYER_NAME", p.buyer_name),
            holidays=env.dates("PROCUREMENT_HOLIDAYS"),
        ),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
