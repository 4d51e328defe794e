"""One Settings object reads the whole environment; README's settings table names exactly what it reads."""

from __future__ import annotations

import ast
import base64
import dataclasses
import datetime as dt
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from marketplace.procurement import rules
from marketplace.settings import (
    ENVIRONMENT_VARIABLES,
    MatchWeights,
    ProcurementRules,
    Settings,
    SettingsError,
    get_settings,
    load_settings,
)

ROOT = Path(__file__).resolve().parents[1]
RAW_KEY = base64.b64encode(bytes(range(32))).decode()
PACKAGES = ("marketplace", "workers", "search", "admin")
ENV_NAMES = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}


class RecordingEnviron(Mapping[str, str]):
    """An environment that remembers every name looked up in it."""

    def __init__(self, values: dict[str, str] | None = None) -> None:
        self.values = values or {}
        self.read: list[str] = []

    def __getitem__(self, name: str) -> str:
        self.read.append(name)
        return self.values[name]

    def get(self, name: str, default: object = None) -> str | None:  # type: ignore[override]
        self.read.append(name)
        return self.values.get(name)

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("settings must look variables up by name, not list the environment")

    def __len__(self) -> int:
        return len(self.values)


def readme_settings_table() -> list[str]:
    """The variable names in the first column of the table under README.md's '## Settings' heading."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    names = [re.fullmatch(r"\| `([A-Z0-9_]+)` \|.*", row) for row in rows]
    assert all(names), rows
    return [m.group(1) for m in names if m]


def environment_reads(source: str) -> list[str]:
    """Where a module's source touches the process environment (os.environ, os.getenv, from os import environ...)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in ENV_NAMES:
            found.append(f"line {node.lineno}: .{node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            found += [f"line {node.lineno}: from os import {a.name}" for a in node.names if a.name in ENV_NAMES]
        elif isinstance(node, ast.Constant) and node.value in ENV_NAMES:
            found.append(f"line {node.lineno}: {node.value!r}")
    return found


def test_readme_settings_table_names_exactly_the_variables_settings_reads() -> None:
    table = readme_settings_table()
    assert len(table) == len(set(table)), "a variable is listed twice in README.md's settings table"
    assert len(ENVIRONMENT_VARIABLES) == len(set(ENVIRONMENT_VARIABLES))
    assert sorted(set(table) - set(ENVIRONMENT_VARIABLES)) == [], "README lists variables the code does not read"
    assert sorted(set(ENVIRONMENT_VARIABLES) - set(table)) == [], "the code reads variables README does not list"


def test_load_settings_reads_every_declared_variable_and_nothing_else() -> None:
    environ = RecordingEnviron()
    load_settings(environ)
    assert set(environ.read) == set(ENVIRONMENT_VARIABLES)


def test_every_declared_variable_changes_the_settings() -> None:
    """No variable is declared (and documented) without taking effect."""
    baseline = load_settings({})
    candidates = ("7", "0", "1", "0.5", "2026-01-01", "postgresql://u@h/db", "production", "4:2,3:12,2:24,1:48")
    candidates += ("approval_month", "utf-8")  # the allowance rules are named choices
    candidates += ("redis://h:6379/0", "http://h:1", "10.0.0.0/8", RAW_KEY)  # URLs, networks, a field key
    candidates += ("smtp://h:25",)  # the mail server
    candidates += ("json", "DEBUG", "metrics-scraper-token-0123456789")  # log choices; a token long enough
    for name in ENVIRONMENT_VARIABLES:
        changed = False
        for value in candidates:
            try:
                changed = load_settings({name: value}) != baseline
            except ValueError:
                continue
            if changed:
                break
        assert changed, f"{name} is declared but setting it changes nothing"


def test_deadlines_by_urgency_are_read_whole_or_refused() -> None:
    s = load_settings({"MARKETPLACE_ACCEPT_WITHIN_HOURS": "4:2, 3:12,2:24,1:48"})
    assert s.deadlines.accept_hours == {4: 2, 3: 12, 2: 24, 1: 48}
    assert s.deadlines.standard_accept_hours == 24
    assert load_settings({}).deadlines.accept_hours == {4: 4, 3: 24, 2: 48, 1: 72}
    for bad in ("4:4,3:24,2:48", "4:4,3:24,2:48,1:0", "4=4,3:24,2:48,1:72", "4:4,3:24,2:48,1:x", "4:4,4:5,2:1,1:1"):
        with pytest.raises(ValueError):
            load_settings({"MARKETPLACE_FIRST_CONTACT_WITHIN_HOURS": bad})


def test_unset_and_empty_variables_take_the_defaults() -> None:
    empty = load_settings({name: "" for name in ENVIRONMENT_VARIABLES})
    assert empty == load_settings({})
    assert empty.procurement == ProcurementRules()
    assert empty.match_weights == MatchWeights()
    assert empty.database_url == "sqlite:///var/marketplace.db"
    assert empty.redis_url is None and empty.task_always_eager is True


def test_data_dir_is_read_when_settings_load_not_at_import() -> None:
    s = load_settings({"MARKETPLACE_DATA_DIR": "/srv/mp"})
    assert s.database_url == "sqlite:////srv/mp/marketplace.db"
    assert s.search_path == "/srv/mp/search.db"
    assert load_settings(
        {"MARKETPLACE_DATA_DIR": "/srv/mp", "MARKETPLACE_DATABASE_URL": "sqlite:///x.db"}
    ).database_url == ("sqlite:///x.db")


def test_procurement_thresholds_are_a_typed_settings_field() -> None:
    s = load_settings(
        {
            "PROCUREMENT_OPEN_TENDER_THRESHOLD_FEN": "10000000",
            "PROCUREMENT_PUBLICITY_WORKING_DAYS": "7",
            "PROCUREMENT_HOLIDAYS": "2026-10-01, 2026-10-02,",
            "PROCUREMENT_BUYER_NAME": "深圳市南山区民政局",
        }
    )
    assert isinstance(s.procurement, ProcurementRules)
    assert s.procurement.open_tender_threshold_fen == 10_000_000
    assert s.procurement.publicity_working_days == 7
    assert s.procurement.holidays == frozenset({dt.date(2026, 10, 1), dt.date(2026, 10, 2)})
    assert s.procurement.buyer_name == "深圳市南山区民政局"
    assert s.procurement.centralised_threshold_fen == ProcurementRules().centralised_threshold_fen
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.procurement.max_term_months = 99  # type: ignore[misc]


def test_bad_numbers_fail_loudly() -> None:
    with pytest.raises(ValueError):
        load_settings({"PROCUREMENT_MAX_TERM_MONTHS": "three years"})
    with pytest.raises(ValueError):
        load_settings({"PROCUREMENT_HOLIDAYS": "2026-13-01"})


def test_procurement_rules_come_from_get_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROCUREMENT_ADDON_CAP_PERCENT", "5")
    get_settings.cache_clear()
    try:
        assert rules.get_rules() is get_settings().procurement
        assert rules.get_rules().addon_cap_percent == 5
        assert rules.ProcurementRules is ProcurementRules  # callers keep importing it from the rules module
    finally:
        get_settings.cache_clear()


def test_settings_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        load_settings({}).port = 1  # type: ignore[misc]
    assert dataclasses.is_dataclass(Settings)


def test_environment_reads_finds_each_way_of_reading_the_environment() -> None:
    assert environment_reads("import os\nx = os.environ.get('A')") == ["line 2: .environ"]
    assert environment_reads("import os\nx = os.getenv('A')") == ["line 2: .getenv"]
    assert environment_reads("from os import environ") == ["line 1: from os import environ"]
    assert environment_reads("import os\nx = getattr(os, 'environ')") == ["line 2: 'environ'"]
    assert environment_reads("import os\nx = os.path.join('a')") == []


def test_no_module_but_settings_reads_the_environment() -> None:
    offenders = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path == ROOT / "marketplace" / "settings.py":
                continue
            found = environment_reads(path.read_text(encoding="utf-8"))
            if found:
                offenders[str(path.relative_to(ROOT))] = found
    assert offenders == {}, "read the environment only in marketplace/settings.py (add a Settings field)"


def test_allowance_rules_are_named_choices() -> None:
    s = load_settings({"ALLOWANCE_START_RULE": "approval_month", "ALLOWANCE_BANK_FILE_ENCODING": "UTF-8"})
    assert (s.allowances.start_rule, s.allowances.bank_file_encoding) == ("approval_month", "utf-8")
    assert load_settings({}).allowances.start_rule == "next_month"
    for name, value in (("ALLOWANCE_START_RULE", "tomorrow"), ("ALLOWANCE_BANK_FILE_ENCODING", "latin-1")):
        with pytest.raises(ValueError, match=name):
            load_settings({name: value})


def problems_of(environ: dict[str, str]) -> list[str]:
    with pytest.raises(SettingsError) as refused:
        load_settings(environ)
    assert isinstance(refused.value, ValueError)
    return refused.value.problems


def test_every_unusable_value_is_one_line_naming_it_all_at_once() -> None:
    short_key = base64.b64encode(bytes(16)).decode()  # valid base64, but 16 bytes
    bad = {
        "PORT": "abc",
        "MARKETPLACE_FIELD_KEY": "not base64!",
        "MARKETPLACE_DATABASE_URL": "mysql://u@h/db",
        "MARKETPLACE_TOKEN_TTL": "-5",
        "MARKETPLACE_DEBUG": "maybe",
        "REDIS_URL": "localhost:6379",
        "MEILI_URL": "ftp://search",
        "MARKETPLACE_TRUSTED_PROXIES": "10.0.0.0/8,proxy.local",
        "PROCUREMENT_HOLIDAYS": "2026-10-01,2026-13-01",
        "MARKETPLACE_ACCEPT_WITHIN_HOURS": "4:4,3:24",
        "MATCH_W_LOCALITY": "-0.2",
        "ALLOWANCE_START_RULE": "whenever",
        "MARKETPLACE_ENV": "prod",
    }
    problems = problems_of(bad)
    assert [p.split(":", 1)[0] for p in problems] == [
        "MARKETPLACE_ENV",
        "REDIS_URL",
        "MARKETPLACE_FIELD_KEY",
        "MARKETPLACE_DATABASE_URL",
        "MEILI_URL",
        "PORT",
        "MARKETPLACE_DEBUG",
        "MARKETPLACE_TOKEN_TTL",
        "MARKETPLACE_TRUSTED_PROXIES",
        "MARKETPLACE_ACCEPT_WITHIN_HOURS",
        "MATCH_W_LOCALITY",
        "PROCUREMENT_HOLIDAYS",
        "ALLOWANCE_START_RULE",
    ]
    for line in problems:  # NAME: what is wrong (what is expected), on one line
        assert re.fullmatch(r"[A-Z_]+: [^\n]+ \([^\n]+\)", line), line
    by_name = {p.split(":", 1)[0]: p for p in problems}
    assert "'abc' is not a whole number (a whole number from 1 to 65535)" in by_name["PORT"]
    assert "not base64 of 32 random bytes" in by_name["MARKETPLACE_FIELD_KEY"]
    assert "base64.b64encode(secrets.token_bytes(32))" in by_name["MARKETPLACE_FIELD_KEY"]  # how to make one
    assert "'mysql'" in by_name["MARKETPLACE_DATABASE_URL"] and "postgresql://" in by_name["MARKETPLACE_DATABASE_URL"]
    assert "-5 is out of range" in by_name["MARKETPLACE_TOKEN_TTL"]
    assert "'proxy.local'" in by_name["MARKETPLACE_TRUSTED_PROXIES"]
    assert "'2026-13-01'" in by_name["PROCUREMENT_HOLIDAYS"]
    # The message: one line saying it refuses, then the problems, one a line.
    message = str(SettingsError(problems, environment="development")).splitlines()
    assert message[1:] == problems and "13 problems" in message[0]
    # A field key of the wrong length is refused too, never stretched into a key.
    assert problems_of({"MARKETPLACE_FIELD_KEY": short_key})[0].startswith("MARKETPLACE_FIELD_KEY: the current key")
    assert problems_of({"MARKETPLACE_FIELD_KEYS": f"k1:{short_key}"})[0].startswith("MARKETPLACE_FIELD_KEYS:")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "0"),
        ("PORT", "65536"),
        ("PORT", "80.5"),
        ("MARKETPLACE_LOGIN_RATE_LIMIT", "0"),
        ("MARKETPLACE_ANONYMOUS_WRITE_WINDOW", "-1"),
        ("MARKETPLACE_EXPORT_RETENTION_HOURS", "-24"),
        ("MARKETPLACE_VISIT_GRACE_DAYS", "-1"),
        ("MARKETPLACE_RETENTION_YEARS", "0"),
        ("PROCUREMENT_ADDON_CAP_PERCENT", "101"),
        ("PROCUREMENT_OPEN_TENDER_THRESHOLD_FEN", "-1"),
        ("MATCH_W_CAPACITY", "nan"),
        ("MARKETPLACE_DATABASE_URL", "var/marketplace.db"),
        ("MARKETPLACE_DATABASE_URL", "postgresql://"),
        ("STRIPE_API_BASE", "127.0.0.1:8420"),
        ("ALLOWANCE_BANK_FILE_ENCODING", "latin-1"),
        ("MARKETPLACE_TASKS_EAGER", "sometimes"),
        ("MARKETPLACE_FIELD_KEYS", "k1:" + base64.b64encode(bytes(32)).decode() + ",k1:" + RAW_KEY),
        ("MARKETPLACE_FIELD_KEYS", "bad id!:" + RAW_KEY),
    ],
)
def test_a_value_out_of_range_or_of_the_wrong_kind_is_refused(name: str, value: str) -> None:
    problems = problems_of({name: value})
    assert len(problems) == 1 and problems[0].startswith(f"{name}: "), problems


def test_good_values_pass_and_an_older_weak_field_key_only_decrypts() -> None:
    s = load_settings(
        {
            "PORT": " 8080 ",
            "MARKETPLACE_DATABASE_URL": "postgresql+psycopg://u:p@db:5432/mp",
            "REDIS_URL": "rediss://:pw@broker:6380/1",
            "MARKETPLACE_DEBUG": "Off",
            "MARKETPLACE_TRUSTED_PROXIES": "10.0.0.1, 2001:db8::/32",
            "ALLOWANCE_BANK_FILE_ENCODING": "UTF-8",
            "MARKETPLACE_FIELD_KEYS": f"new:{RAW_KEY},old:a-passphrase-from-2024",
        }
    )
    assert s.port == 8080 and s.debug is False and s.allowances.bank_file_encoding == "utf-8"
    assert s.trusted_proxies == ("10.0.0.1", "2001:db8::/32")
    assert [k.id for k in s.field_key_ring] == ["new", "old"]  # the rotation away from a passphrase still works


def test_a_log_level_is_checked_like_every_other_setting() -> None:
    """MARKETPLACE_LOG_LEVEL belongs to the observability settings; once declared, an unknown level is refused in
    the same one-line form."""
    if "MARKETPLACE_LOG_LEVEL" not in ENVIRONMENT_VARIABLES:
        pytest.skip("MARKETPLACE_LOG_LEVEL is not a setting on this branch")
    problems = problems_of({"MARKETPLACE_LOG_LEVEL": "LOUD"})
    assert len(problems) == 1 and problems[0].startswith("MARKETPLACE_LOG_LEVEL: "), problems


def test_the_process_settings_report_values_and_secrets_together(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENVIRONMENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MARKETPLACE_ENV", "production")
    monkeypatch.setenv("PORT", "http")
    get_settings.cache_clear()
    try:
        with pytest.raises(SettingsError) as refused:
            get_settings()
    finally:
        get_settings.cache_clear()
    problems = refused.value.problems
    assert problems[0].startswith("PORT: ") and any(p.startswith("not set: MARKETPLACE_SECRET_KEY") for p in problems)
    assert str(refused.value).startswith("MARKETPLACE_ENV=production: refusing to start")
