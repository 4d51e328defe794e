"""All configuration, read once from the environment, with embedded defaults that need no services.

This module is the only one that reads the environment: every variable the code uses is declared in
``ENVIRONMENT_VARIABLES`` and read by ``load_settings`` (reading an undeclared name is an error). README.md's settings
table lists the same names; tests/test_settings.py fails when the two disagree or when another module reads
``os.environ``.

No secret has a default. ``load_settings`` only reads the environment (cheap, no side effects): an unset secret stays
empty. ``get_settings`` -- the settings of the running process -- is the one place that completes them: in
production it refuses to go on while a secret is missing or weak (:class:`SettingsError`, naming every variable);
in development it takes the secret key and the field key ring from the data directory's key files, creating them
on first use (``marketplace.keyfiles``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Final

from marketplace import keyfiles
from marketplace.keyfiles import FieldKey

log = logging.getLogger("marketplace.settings")

# Every environment variable the code reads, in the order README.md's settings table lists them.
ENVIRONMENT_VARIABLES: Final[tuple[str, ...]] = (
    "MARKETPLACE_ENV",
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
    "MARKETPLACE_FIELD_KEYS",
    "HOST",
    "PORT",
    "MARKETPLACE_DEBUG",
    "MARKETPLACE_LOG_FORMAT",
    "MARKETPLACE_LOG_LEVEL",
    "MARKETPLACE_METRICS_TOKEN",
    "MARKETPLACE_TOKEN_TTL",
    "MARKETPLACE_LOGIN_RATE_LIMIT",
    "MARKETPLACE_ANONYMOUS_WRITE_LIMIT",
    "MARKETPLACE_ANONYMOUS_WRITE_WINDOW",
    "MARKETPLACE_TRUSTED_PROXIES",
    "MARKETPLACE_PENDING_DONATION_HOURS",
    "MARKETPLACE_EXPORT_RETENTION_HOURS",
    "MARKETPLACE_ACCEPT_WITHIN_HOURS",
    "MARKETPLACE_FIRST_CONTACT_WITHIN_HOURS",
    "MARKETPLACE_VISIT_GRACE_DAYS",
    "MARKETPLACE_REPORT_ACK_SUPERVISOR_HOURS",
    "MARKETPLACE_REPORT_ACK_DISTRICT_HOURS",
    "MARKETPLACE_STALE_LISTING_DAYS",
    "MARKETPLACE_RETENTION_YEARS",
    "MARKETPLACE_READY_DATABASE_TIMEOUT",
    "MARKETPLACE_READY_BROKER_TIMEOUT",
    "MARKETPLACE_READY_SEARCH_TIMEOUT",
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
    "PROCUREMENT_BUYER_CREDIT_CODE",
    "PROCUREMENT_HOLIDAYS",
    "ALLOWANCE_START_RULE",
    "ALLOWANCE_REGION",
    "ALLOWANCE_BANK_FILE_ENCODING",
    "MARKETPLACE_PUBLIC_URL",
    "MARKETPLACE_SMTP_URL",
    "MARKETPLACE_MAIL_FROM",
    "MARKETPLACE_SMS_URL",
    "MARKETPLACE_SMS_ACCESS_KEY_ID",
    "MARKETPLACE_SMS_ACCESS_KEY_SECRET",
    "MARKETPLACE_SMS_SIGN_NAME",
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


def _by_urgency(**hours: int) -> dict[int, int]:
    return {int(k.removeprefix("u")): v for k, v in hours.items()}


@dataclass(frozen=True)
class Deadlines:
    """How soon the closed loop must move, by the need's urgency (4 特急 … 1 一般), and how far it escalates.

    A referral must be answered (accepted or declined) within ``accept_hours[urgency]`` of being sent, and its first
    service contact (the provider starts the service) made within ``first_contact_hours[urgency]`` of the acceptance.
    Past a deadline the escalation ladder is climbed one step per deadline-length: at 1× the child's director is told,
    at 2× the street's supervisor, at 3× the district (an urgency-4 referral unanswered: 4 h, 8 h, 12 h). A visit past
    due alerts the director; ``visit_grace_days`` later, the supervisor. A mandatory report must be acknowledged by
    the street's supervisor within ``report_ack_supervisor_hours`` and by the district within
    ``report_ack_district_hours`` of being made."""

    accept_hours: dict[int, int] = field(default_factory=lambda: _by_urgency(u4=4, u3=24, u2=48, u1=72))
    first_contact_hours: dict[int, int] = field(default_factory=lambda: _by_urgency(u4=24, u3=48, u2=72, u1=120))
    visit_grace_days: int = 7
    report_ack_supervisor_hours: int = 2
    report_ack_district_hours: int = 12

    @property
    def standard_accept_hours(self) -> int:
        """The acceptance deadline of an ordinary (urgency 2) need: the yardstick of provider response in scoring
        and rankings."""
        return self.accept_hours[2]


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
    # The buyer's 统一社会信用代码 (18 characters), published in OCDS as identifier scheme CN-USCI; empty: none.
    buyer_credit_code: str = ""
    # Public holidays on which the publicity period does not run (weekends never count).
    holidays: frozenset[dt.date] = field(default_factory=frozenset)


LOG_FORMATS: Final = ("json", "text", "auto")
LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# A Prometheus scraper's bearer token for /metrics: long enough not to be guessed.
MIN_METRICS_TOKEN_LENGTH: Final = 24

ALLOWANCE_START_RULES: Final = ("next_month", "approval_month")
BANK_FILE_ENCODINGS: Final = ("gbk", "utf-8")


@dataclass(frozen=True)
class AllowanceRules:
    """How allowance decisions take effect and how the monthly run is paid (marketplace.procurement.allowances).

    ``start_rule``: the earliest month an approved allowance is paid for: ``next_month`` (the month after the
    district's approval; the usual rule, so a file approved today is not paid for the whole current month) or
    ``approval_month``. ``region``: whose rates apply (a rate with no region applies everywhere).
    ``bank_file_encoding``: the bank payment file's text encoding (``gbk`` or ``utf-8``, as the bank asks)."""

    start_rule: str = "next_month"
    region: str = "futian"
    bank_file_encoding: str = "gbk"


@dataclass(frozen=True)
class ReadyTimeouts:
    """How long each of ``GET /health/ready``'s checks may take, in seconds, before it counts as failed: a probe
    answers within about the longest of them (they run at once), whatever hangs behind it."""

    database: float = 2.0
    broker: float = 1.0
    search: float = 1.0


MAX_READY_TIMEOUT: Final = 30.0


@dataclass(frozen=True)
class Settings:
    database_url: str
    # Signs tokens and console sessions; empty only before get_settings completes the settings.
    secret_key: str = field(repr=False)
    # The current field encryption key (encrypts); ``old_field_keys`` only decrypt.
    field_key: str = field(repr=False)
    redis_url: str | None
    task_always_eager: bool
    meili_url: str | None
    meili_key: str | None = field(repr=False)
    search_path: str
    # Empty when not configured: online payments then answer 503 without calling anyone.
    stripe_api_key: str = field(repr=False)
    # Empty when not configured: the webhook endpoint then refuses every event.
    stripe_webhook_secret: str = field(repr=False)
    stripe_api_base: str | None
    host: str = "127.0.0.1"
    port: int = 8000
    debug: bool = False
    # How every process logs (marketplace.observability.logs): json lines, text for a person, or auto (text when
    # stderr is a terminal, else json); and from which level.
    log_format: str = "auto"
    log_level: str = "INFO"
    # The bearer token a Prometheus scraper sends to /metrics; empty: only a signed-in district admin reads it.
    metrics_token: str = field(default="", repr=False)
    token_ttl_seconds: int = 12 * 3600
    login_rate_limit_per_minute: int = 10
    # Writes without login (a donation, ...): at most this many per client address per window of seconds.
    anonymous_write_limit: int = 20
    anonymous_write_window_seconds: int = 600
    # Addresses (or networks) of the reverse proxies whose X-Forwarded-For is believed; none: the peer address counts.
    trusted_proxies: tuple[str, ...] = ()
    # An online gift still unpaid after this many hours is expired (its Stripe PaymentIntent cancelled).
    pending_donation_hours: int = 24
    # A finished report export's file is deleted (the job kept, marked expired) this many hours after it was made.
    export_retention_hours: int = 72
    sqlite_busy_timeout_ms: int = 30_000
    deadlines: Deadlines = field(default_factory=Deadlines)
    visit_interval_days: dict[str, int] = field(
        default_factory=lambda: {"critical": 7, "high": 14, "medium": 30, "low": 90}
    )
    stale_listing_days: int = 180
    # A closed child's file is deleted this many whole years after its closing (marketplace.cases.retention).
    retention_years: int = 5
    match_weights: MatchWeights = field(default_factory=MatchWeights)
    procurement: ProcurementRules = field(default_factory=ProcurementRules)
    allowances: AllowanceRules = field(default_factory=AllowanceRules)
    # GET /health/ready: how long each check may take (seconds) before it counts as failed (marketplace.health).
    ready_timeouts: ReadyTimeouts = field(default_factory=ReadyTimeouts)
    timezone: str = "Asia/Shanghai"
    environment: str = "development"
    data_dir: str = "var"
    # The id written into ciphertexts made with ``field_key`` ("" = derived from the key itself).
    field_key_id: str = ""
    old_field_keys: tuple[FieldKey, ...] = ()
    # Set when the ring came from the data directory's key file: a process re-reads it to learn a new key.
    field_key_file: str | None = None
    # Notifications outside the app (marketplace.messaging): the console's address the messages link to, the SMTP
    # server (smtp:// STARTTLS or smtps://, with its login; unset: no email) and the sender; the SMS gateway
    # (Alibaba Cloud dysmsapi; unset: no SMS), its access key and the approved sign name.
    public_url: str = "http://127.0.0.1:8000"
    smtp_url: str | None = field(default=None, repr=False)
    mail_from: str = ""
    sms_url: str | None = None
    sms_access_key_id: str = ""
    sms_access_key_secret: str = field(default="", repr=False)
    sms_sign_name: str = ""

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @cached_property
    def field_key_ring(self) -> tuple[FieldKey, ...]:
        """Every field key this process knows, the current (encrypting) one first."""
        current = FieldKey(self.field_key_id or keyfiles.fingerprint(self.field_key), self.field_key)
        return (current, *self.old_field_keys)

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


_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})
# The database URL schemes the code can drive (marketplace.db turns each into its async and sync driver).
DATABASE_SCHEMES: Final = (
    "sqlite",
    "sqlite+aiosqlite",
    "postgresql",
    "postgres",
    "postgresql+psycopg",
    "postgresql+asyncpg",
)
REDIS_SCHEMES: Final = ("redis", "rediss", "redis+socket")
HTTP_SCHEMES: Final = ("http", "https")
SMTP_SCHEMES: Final = ("smtp", "smtps")


class _Environment:
    """Typed reads of the declared variables; an empty value counts as unset.

    A value that cannot be used does not stop the reading: the read notes one line, ``NAME: what is wrong (what is
    expected)``, in :attr:`problems` and gives the default, so that ``load_settings`` reports every problem at once."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        self.problems: list[str] = []

    def problem(self, name: str, wrong: str, expected: str) -> None:
        self.problems.append(f"{name}: {wrong} ({expected})")

    def raw(self, name: str) -> str | None:
        if name not in ENVIRONMENT_VARIABLES:
            raise KeyError(f"{name} is not declared in marketplace.settings.ENVIRONMENT_VARIABLES")
        value = self._environ.get(name)
        return value if value else None

    def text(self, name: str, default: str) -> str:
        return self.raw(name) or default

    def integer(self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
        """A whole number within ``minimum``..``maximum`` (either bound optional)."""
        raw = self.raw(name)
        if raw is None:
            return default
        if minimum is not None and maximum is not None:
            expected = f"a whole number from {minimum} to {maximum}"
        elif minimum is not None:
            expected = f"a whole number of at least {minimum}"
        else:
            expected = "a whole number"
        try:
            value = int(raw.strip())
        except ValueError:
            self.problem(name, f"{raw!r} is not a whole number", expected)
            return default
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            self.problem(name, f"{value} is out of range", expected)
            return default
        return value

    def number(self, name: str, default: float, *, minimum: float | None = None, maximum: float | None = None) -> float:
        raw = self.raw(name)
        if raw is None:
            return default
        expected = "a number" + (f" from {minimum:g}" if minimum is not None else "")
        expected += f" to {maximum:g}" if maximum is not None else ""
        try:
            value = float(raw.strip())
        except ValueError:
            self.problem(name, f"{raw!r} is not a number", expected)
            return default
        if value != value or (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            self.problem(name, f"{raw.strip()} is out of range", expected)
            return default
        return value

    def flag(self, name: str, default: bool) -> bool:
        raw = self.raw(name)
        if raw is None:
            return default
        value = raw.strip().lower()
        if value not in _TRUE | _FALSE:
            self.problem(name, f"{raw!r} is neither on nor off", "1, true, yes, on or 0, false, no, off")
            return default
        return value in _TRUE

    def choice(self, name: str, choices: tuple[str, ...], default: str, *, fold: bool = False) -> str:
        """One of ``choices`` (compared in lower case with ``fold``)."""
        raw = self.raw(name)
        if raw is None:
            return default
        value = raw.strip().lower() if fold else raw.strip()
        if value not in choices:
            self.problem(name, f"{raw!r} is not a known value", "one of " + ", ".join(choices))
            return default
        return value

    def url(self, name: str, schemes: tuple[str, ...], default: str | None, example: str) -> str | None:
        """A URL whose scheme is one of ``schemes`` and that names something after the scheme."""
        raw = self.raw(name)
        if raw is None:
            return default
        scheme, sep, rest = raw.strip().partition("://")
        if not sep and raw.startswith("sqlite:"):  # sqlite:relative.db is not a URL SQLAlchemy reads
            scheme, rest = "sqlite", ""
        if not sep or scheme.lower() not in schemes or not rest:
            shown = f"scheme {scheme!r}" if sep else "no scheme"
            self.problem(
                name, f"{shown} is not supported", f"{' or '.join(s + '://' for s in schemes)}…, e.g. {example}"
            )
            return default
        return raw.strip()

    def by_urgency(self, name: str, default: dict[int, int]) -> dict[int, int]:
        """``4:4,3:24,2:48,1:72``: hours by urgency; every urgency 1-4 named once, each a positive whole number."""
        raw = self.raw(name)
        if raw is None:
            return dict(default)
        expected = "urgency:hours for each urgency 1-4, hours at least 1, e.g. 4:4,3:24,2:48,1:72"
        out: dict[int, int] = {}
        for part in raw.split(","):
            key, sep, value = part.partition(":")
            if not sep or not key.strip().isdigit() or not value.strip().isdigit():
                self.problem(name, f"{part.strip()!r} is not urgency:hours", expected)
                return dict(default)
            if int(key) in out:
                self.problem(name, f"urgency {int(key)} is given twice", expected)
                return dict(default)
            out[int(key)] = int(value)
        if sorted(out) != [1, 2, 3, 4] or min(out.values()) < 1:
            self.problem(name, "not every urgency 1-4 has positive hours", expected)
            return dict(default)
        return out

    def dates(self, name: str) -> frozenset[dt.date]:
        raw = self.raw(name) or ""
        out: set[dt.date] = set()
        for part in (x.strip() for x in raw.split(",")):
            if not part:
                continue
            try:
                out.add(dt.date.fromisoformat(part))
            except ValueError:
                self.problem(name, f"{part!r} is not a date", "comma-separated ISO dates, e.g. 2026-10-01,2026-10-02")
        return frozenset(out)

    def networks(self, name: str) -> tuple[str, ...]:
        out: list[str] = []
        for part in (x.strip() for x in (self.raw(name) or "").split(",")):
            if not part:
                continue
            try:
                ipaddress.ip_network(part, strict=False)
            except ValueError:
                self.problem(
                    name, f"{part!r} is not an address or network", "comma-separated, e.g. 10.0.0.1,10.1.0.0/16"
                )
                continue
            out.append(part)
        return tuple(out)


ENVIRONMENTS: Final = ("development", "production")
# What the Stripe client sends to a local fake (STRIPE_API_BASE) in development when STRIPE_API_KEY is unset: a
# fake takes any key and Stripe itself refuses this one, so it can reach nothing real.
LOCAL_FAKE_STRIPE_KEY: Final = "sk_test_localstripe"
# SHA-256 of values this repository once shipped as defaults (the secret key, the field key, the webhook secret,
# the Stripe key): public, so refused wherever they are set.
PUBLISHED_DEFAULTS: Final = frozenset(
    {
        "371166b5237654cef36125fc489b02837fbea04e9f847824d36e74557614a6bf",
        "4b362c39e36a4f767d131bb6b2e5d33cbc82506977683141245c0b5210e80274",
        "a6f8987840826bc083b0bd3a0321a304a7fc55f296cd81befb64fec8a0a4a4ee",
        "84e6c6c499037ce3124682a1f577375d49e8c365fbdaddde3720dac6a17c9bd4",
    }
)
MIN_SECRET_KEY_LENGTH: Final = 32
MIN_STRIPE_SECRET_LENGTH: Final = 24
# The documented way to make a field key (README.md, Settings: secrets); `marketplace new-field-key` prints one too.
FIELD_KEY_COMMAND: Final = (
    'python -c "import base64, secrets; print(base64.b64encode(secrets.token_bytes(32)).decode())"'
)
# The project's own files, searched in production for a secret copied from them (tests, docs, examples).
ROOT: Final = Path(__file__).resolve().parents[1]
_SOURCE_DIRS: Final = ("marketplace", "admin", "workers", "search", "tests", "docs", "scripts")
_SOURCE_SUFFIXES: Final = frozenset({".py", ".md", ".toml", ".json", ".txt", ".cfg", ".ini", ".yml", ".yaml", ".sh"})
_SOURCE_SUFFIXES_EXTRA: Final = frozenset({".html", ".js", ".env", ".example", ""})


class SettingsError(ValueError):
    """The configuration cannot be used. ``problems`` holds one line per problem, each naming its variable, what is
    wrong and (in parentheses) what is expected; the message is all of them at once, under one line saying so."""

    def __init__(self, problems: list[str], *, environment: str) -> None:
        self.problems = problems
        self.environment = environment
        these = "this problem is" if len(problems) == 1 else f"these {len(problems)} problems are"
        super().__init__(
            f"MARKETPLACE_ENV={environment}: refusing to start until {these} fixed (README.md, Settings):\n"
            + "\n".join(problems)
        )


def _field_ring(env: _Environment) -> tuple[FieldKey, ...]:
    """MARKETPLACE_FIELD_KEYS ("id:key,id2:key2", the first encrypting) and/or MARKETPLACE_FIELD_KEY (one key; its
    id derived from it). With both, the single key joins the ring as an older key unless it is already in it.

    The key that encrypts (the ring's first) must be base64 of 32 bytes, everywhere: anything else is refused, never
    stretched into a key. An older key only decrypts, so it may be weak (a ring rotating away from a passphrase)."""
    keys, key = env.raw("MARKETPLACE_FIELD_KEYS"), env.raw("MARKETPLACE_FIELD_KEY")
    ring: list[FieldKey] = []
    for n, entry in enumerate((keys or "").split(","), start=1):
        entry = entry.strip()
        if not entry:
            continue
        key_id, sep, material = entry.partition(":")
        if not sep:
            key_id, material = keyfiles.fingerprint(entry), entry
        elif not keyfiles.KEY_ID.fullmatch(key_id) or not material:
            env.problem(
                "MARKETPLACE_FIELD_KEYS", f"entry {n} is not '<key id>:<key>'", "key id: 1-40 letters, digits, ._-"
            )
            continue
        ring.append(FieldKey(key_id, material))
    if len({k.id for k in ring}) != len(ring):
        env.problem("MARKETPLACE_FIELD_KEYS", "a key id is used twice", "each key of the ring under its own id")
    if key and key not in {k.secret for k in ring}:
        ring.append(FieldKey(keyfiles.fingerprint(key), key))
    if ring and not keyfiles.is_raw_key(ring[0].secret):
        name = "MARKETPLACE_FIELD_KEYS" if keys and ring[0].secret != key else "MARKETPLACE_FIELD_KEY"
        env.problem(
            name,
            f"the current key ({ring[0].id}) is not base64 of 32 random bytes",
            f"make one with: {FIELD_KEY_COMMAND}",
        )
    return tuple(ring)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from ``environ`` (default: the process environment), each unset variable taking its default.

    Reads nothing but ``environ``: an unset secret is left empty (``get_settings`` completes it). Raises
    :class:`SettingsError` listing every value that cannot be used, one line each."""
    settings, problems = read_settings(environ)
    if problems:
        raise SettingsError(problems, environment=settings.environment)
    return settings


def read_settings(environ: Mapping[str, str] | None = None) -> tuple[Settings, list[str]]:
    """The settings ``load_settings`` reads, with each unusable value replaced by its default, and the problems
    found (one line each: ``NAME: what is wrong (what is expected)``)."""
    env = _Environment(os.environ if environ is None else environ)
    environment = env.choice("MARKETPLACE_ENV", ENVIRONMENTS, "development")
    data_dir = Path(env.text("MARKETPLACE_DATA_DIR", "var"))
    default_search = str(data_dir / "search.db")
    redis_url = env.url("REDIS_URL", REDIS_SCHEMES, None, "redis://127.0.0.1:6379/0")
    ring = _field_ring(env)
    stripe_api_base = env.url("STRIPE_API_BASE", HTTP_SCHEMES, None, "http://127.0.0.1:8420")
    fake_stripe = stripe_api_base is not None and environment != "production"
    p = ProcurementRules()
    d = Deadlines()
    hours = {"minimum": 1}
    settings = Settings(
        database_url=env.url(
            "MARKETPLACE_DATABASE_URL",
            DATABASE_SCHEMES,
            f"sqlite:///{data_dir / 'marketplace.db'}",
            "postgresql://user:password@host/marketplace or sqlite:///var/marketplace.db",
        )
        or "",
        secret_key=env.text("MARKETPLACE_SECRET_KEY", ""),
        field_key=ring[0].secret if ring else "",
        field_key_id=ring[0].id if ring else "",
        old_field_keys=ring[1:],
        environment=environment,
        data_dir=str(data_dir),
        redis_url=redis_url,
        # Without a broker the tasks run in process right after commit (the embedded default).
        task_always_eager=env.flag("MARKETPLACE_TASKS_EAGER", redis_url is None),
        meili_url=env.url("MEILI_URL", HTTP_SCHEMES, None, "http://127.0.0.1:7700"),
        meili_key=env.raw("MEILI_KEY"),
        search_path=env.text("MARKETPLACE_SEARCH_PATH", default_search),
        stripe_api_key=env.text("STRIPE_API_KEY", LOCAL_FAKE_STRIPE_KEY if fake_stripe else ""),
        stripe_webhook_secret=env.text("STRIPE_WEBHOOK_SECRET", ""),
        stripe_api_base=stripe_api_base,
        host=env.text("HOST", "127.0.0.1"),
        port=env.integer("PORT", 8000, minimum=1, maximum=65535),
        debug=env.flag("MARKETPLACE_DEBUG", False),
        log_format=env.choice("MARKETPLACE_LOG_FORMAT", LOG_FORMATS, "auto", fold=True),
        log_level=env.choice(
            "MARKETPLACE_LOG_LEVEL", tuple(level.lower() for level in LOG_LEVELS), "info", fold=True
        ).upper(),
        metrics_token=_metrics_token(env),
        token_ttl_seconds=env.integer("MARKETPLACE_TOKEN_TTL", 12 * 3600, minimum=1),
        login_rate_limit_per_minute=env.integer("MARKETPLACE_LOGIN_RATE_LIMIT", 10, minimum=1),
        anonymous_write_limit=env.integer("MARKETPLACE_ANONYMOUS_WRITE_LIMIT", 20, minimum=1),
        anonymous_write_window_seconds=env.integer("MARKETPLACE_ANONYMOUS_WRITE_WINDOW", 600, minimum=1),
        trusted_proxies=env.networks("MARKETPLACE_TRUSTED_PROXIES"),
        pending_donation_hours=env.integer("MARKETPLACE_PENDING_DONATION_HOURS", 24, **hours),
        export_retention_hours=env.integer("MARKETPLACE_EXPORT_RETENTION_HOURS", 72, **hours),
        deadlines=Deadlines(
            accept_hours=env.by_urgency("MARKETPLACE_ACCEPT_WITHIN_HOURS", d.accept_hours),
            first_contact_hours=env.by_urgency("MARKETPLACE_FIRST_CONTACT_WITHIN_HOURS", d.first_contact_hours),
            visit_grace_days=env.integer("MARKETPLACE_VISIT_GRACE_DAYS", d.visit_grace_days, minimum=0),
            report_ack_supervisor_hours=env.integer(
                "MARKETPLACE_REPORT_ACK_SUPERVISOR_HOURS", d.report_ack_supervisor_hours, **hours
            ),
            report_ack_district_hours=env.integer(
                "MARKETPLACE_REPORT_ACK_DISTRICT_HOURS", d.report_ack_district_hours, **hours
            ),
        ),
        stale_listing_days=env.integer("MARKETPLACE_STALE_LISTING_DAYS", 180, minimum=1),
        # A closed child's file is deleted this many whole years after its closing.
        retention_years=env.integer("MARKETPLACE_RETENTION_YEARS", 5, minimum=1, maximum=100),
        match_weights=_match_weights(env),
        procurement=ProcurementRules(
            centralised_threshold_fen=env.integer(
                "PROCUREMENT_CENTRALISED_THRESHOLD_FEN", p.centralised_threshold_fen, minimum=0
            ),
            open_tender_threshold_fen=env.integer(
                "PROCUREMENT_OPEN_TENDER_THRESHOLD_FEN", p.open_tender_threshold_fen, minimum=0
            ),
            addon_cap_percent=env.integer("PROCUREMENT_ADDON_CAP_PERCENT", p.addon_cap_percent, minimum=0, maximum=100),
            term_reason_after_months=env.integer(
                "PROCUREMENT_TERM_REASON_AFTER_MONTHS", p.term_reason_after_months, minimum=1
            ),
            max_term_months=env.integer("PROCUREMENT_MAX_TERM_MONTHS", p.max_term_months, minimum=1),
            publicity_working_days=env.integer(
                "PROCUREMENT_PUBLICITY_WORKING_DAYS", p.publicity_working_days, minimum=0
            ),
            price_weight_percent=env.integer(
                "PROCUREMENT_PRICE_WEIGHT_PERCENT", p.price_weight_percent, minimum=0, maximum=100
            ),
            ocid_prefix=env.text("PROCUREMENT_OCID_PREFIX", p.ocid_prefix),
            buyer_name=env.text("PROCUREMENT_BUYER_NAME", p.buyer_name),
            buyer_credit_code=env.text("PROCUREMENT_BUYER_CREDIT_CODE", p.buyer_credit_code),
            holidays=env.dates("PROCUREMENT_HOLIDAYS"),
        ),
        allowances=AllowanceRules(
            start_rule=env.choice("ALLOWANCE_START_RULE", ALLOWANCE_START_RULES, AllowanceRules.start_rule),
            region=env.text("ALLOWANCE_REGION", AllowanceRules.region),
            bank_file_encoding=env.choice(
                "ALLOWANCE_BANK_FILE_ENCODING", BANK_FILE_ENCODINGS, AllowanceRules.bank_file_encoding, fold=True
            ),
        ),
        ready_timeouts=_ready_timeouts(env),
        public_url=(
            env.url("MARKETPLACE_PUBLIC_URL", HTTP_SCHEMES, None, "https://care.futian.example")
            or "http://127.0.0.1:8000"
        ).rstrip("/"),
        smtp_url=env.url("MARKETPLACE_SMTP_URL", SMTP_SCHEMES, None, "smtps://user:password@smtp.example.com:465"),
        mail_from=env.text("MARKETPLACE_MAIL_FROM", ""),
        sms_url=env.url("MARKETPLACE_SMS_URL", HTTP_SCHEMES, None, "https://dysmsapi.aliyuncs.com/"),
        sms_access_key_id=env.text("MARKETPLACE_SMS_ACCESS_KEY_ID", ""),
        sms_access_key_secret=env.text("MARKETPLACE_SMS_ACCESS_KEY_SECRET", ""),
        sms_sign_name=env.text("MARKETPLACE_SMS_SIGN_NAME", ""),
    )
    return settings, env.problems


def _ready_timeouts(env: _Environment) -> ReadyTimeouts:
    d = ReadyTimeouts()
    bounds = {"minimum": 0.01, "maximum": MAX_READY_TIMEOUT}
    return ReadyTimeouts(
        database=env.number("MARKETPLACE_READY_DATABASE_TIMEOUT", d.database, **bounds),
        broker=env.number("MARKETPLACE_READY_BROKER_TIMEOUT", d.broker, **bounds),
        search=env.number("MARKETPLACE_READY_SEARCH_TIMEOUT", d.search, **bounds),
    )


def _metrics_token(env: _Environment) -> str:
    token = env.text("MARKETPLACE_METRICS_TOKEN", "")
    if token and (len(token) < MIN_METRICS_TOKEN_LENGTH or not token.isascii() or not token.isprintable()):
        env.problem(
            "MARKETPLACE_METRICS_TOKEN",
            "too short or not printable ASCII",
            f"at least {MIN_METRICS_TOKEN_LENGTH} printable ASCII characters",
        )
        return ""
    return token


def _match_weights(env: _Environment) -> MatchWeights:
    w = MatchWeights()
    unit = {"minimum": 0.0, "maximum": 1.0}
    return MatchWeights(
        category_fit=env.number("MATCH_W_CATEGORY_FIT", w.category_fit, **unit),
        locality=env.number("MATCH_W_LOCALITY", w.locality, **unit),
        provider_record=env.number("MATCH_W_PROVIDER_RECORD", w.provider_record, **unit),
        freshness=env.number("MATCH_W_FRESHNESS", w.freshness, **unit),
        funding=env.number("MATCH_W_FUNDING", w.funding, **unit),
        continuity=env.number("MATCH_W_CONTINUITY", w.continuity, **unit),
        capacity=env.number("MATCH_W_CAPACITY", w.capacity, **unit),
    )


# ---------------------------------------------------------------- secrets


def is_published_default(value: str) -> bool:
    return hashlib.sha256(value.encode()).hexdigest() in PUBLISHED_DEFAULTS


def _source_files(root: Path) -> list[Path]:
    files = [p for p in root.iterdir() if p.is_file() and p.suffix in _SOURCE_SUFFIXES | {""}]
    for name in _SOURCE_DIRS:
        if (root / name).is_dir():
            files += [
                p
                for p in (root / name).rglob("*")
                if p.is_file()
                and p.suffix in _SOURCE_SUFFIXES | _SOURCE_SUFFIXES_EXTRA
                and "__pycache__" not in p.parts
            ]
    return files


def found_in_repository(values: list[str], root: Path = ROOT) -> set[str]:
    """Which of ``values`` appear in the project's own files (source, tests, docs): a secret written there is
    public. Read once, at a production start."""
    wanted = [v for v in values if v]
    found: set[str] = set()
    for path in _source_files(root):
        try:
            text = path.read_text(encoding="utf-8", errors="ignore")
        except OSError:
            continue
        found.update(v for v in wanted if v in text)
        if len(found) == len(wanted):
            break
    return found


def secret_problems(settings: Settings) -> list[str]:
    """Why the settings' secrets may not be used, one line per variable (empty when they may).

    Everywhere: no value this repository once shipped as a default. In production also: every secret set
    explicitly, long enough, a current field key of 32 random bytes, and none copied from the project's files.
    An older field key only decrypts what it made until ``rotate-field-key`` has moved it (even the published
    default key, so that data it sealed can be moved away from it): it is only warned about."""
    from_environment = bool(settings.field_key) and not settings.field_key_file
    current = settings.field_key_ring[0] if from_environment else None
    named = [
        ("MARKETPLACE_SECRET_KEY", settings.secret_key),
        ("MARKETPLACE_FIELD_KEYS", current.secret if current else ""),
        ("STRIPE_API_KEY", "" if settings.stripe_api_key == LOCAL_FAKE_STRIPE_KEY else settings.stripe_api_key),
        ("STRIPE_WEBHOOK_SECRET", settings.stripe_webhook_secret),
    ]
    problems = [
        f"{name}: a value published in this repository (a new random one: README.md, Settings: secrets)"
        for name, v in named
        if v and is_published_default(v)
    ]
    weak_old = [
        k.id for k in settings.old_field_keys if is_published_default(k.secret) or not keyfiles.is_raw_key(k.secret)
    ]
    if weak_old and from_environment:
        log.warning(
            "older field keys %s are weak or published: run `marketplace rotate-field-key`, then drop them", weak_old
        )
    if not settings.is_production:
        return problems
    missing = [name for name, value in named if not value]
    if missing:
        missing = [f"{n} (or MARKETPLACE_FIELD_KEY)" if n == "MARKETPLACE_FIELD_KEYS" else n for n in missing]
        problems.insert(0, "not set: " + ", ".join(missing) + " (production takes every secret from the environment)")
    if settings.secret_key and len(settings.secret_key) < MIN_SECRET_KEY_LENGTH:
        problems.append(
            f"MARKETPLACE_SECRET_KEY: shorter than {MIN_SECRET_KEY_LENGTH} characters "
            '(make one with: python -c "import secrets; print(secrets.token_urlsafe(48))")'
        )
    if current and not keyfiles.is_raw_key(current.secret):
        problems.append(
            f"MARKETPLACE_FIELD_KEYS: the current key ({current.id}) is not base64 of 32 random bytes "
            f"(make one with: {FIELD_KEY_COMMAND})"
        )
    for name, value in named[2:]:
        if value and len(value) < MIN_STRIPE_SECRET_LENGTH:
            problems.append(f"{name}: shorter than {MIN_STRIPE_SECRET_LENGTH} characters (the value Stripe gave)")
    copied = found_in_repository([v for _, v in named])
    problems += [
        f"{name}: found in this repository's files (a new random one, kept out of the repository)"
        for name, v in named
        if v in copied
    ]
    return problems


def complete_settings(settings: Settings) -> Settings:
    """The settings a process runs with: refused when a secret may not be used; in development, the secrets left
    unset taken from the data directory's key files (created there, mode 0600, on first use).

    The one place with side effects on the settings' behalf: ``get_settings`` calls it once per process."""
    problems = secret_problems(settings)
    if problems:
        raise SettingsError(problems, environment=settings.environment)
    if settings.is_production:
        return settings
    data_dir = Path(settings.data_dir)
    secret_key = settings.secret_key or keyfiles.secret_key(data_dir)
    if settings.field_key:
        return replace(settings, secret_key=secret_key)
    ring = keyfiles.field_keys(data_dir)
    return replace(
        settings,
        secret_key=secret_key,
        field_key=ring[0].secret,
        field_key_id=ring[0].id,
        old_field_keys=ring[1:],
        field_key_file=str(keyfiles.field_keys_path(data_dir)),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """This process's settings: the environment, completed by :func:`complete_settings` (once, then cached).

    Every problem at once: the values that cannot be read and the secrets that may not be used."""
    settings, problems = read_settings()
    if problems:
        raise SettingsError(problems + secret_problems(settings), environment=settings.environment)
    return complete_settings(settings)
