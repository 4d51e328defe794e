"""Secrets are never defaults.

* On a fresh data directory, the app built as ``make run`` builds it accepts no token signed with any key-looking
  string written in the repository (the former defaults, the tests' secrets, whsec_ strings, base64 32-byte keys)
  and refuses every Stripe webhook, however signed;
* the development key files are made once (mode 0600, the directory 0700) and every process reads the same ones;
* ``MARKETPLACE_ENV=production`` without (or with weak) secrets: ``marketplace serve`` and ``worker`` exit non-zero
  with one message naming every variable, without a traceback and without writing a key file.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import secrets
import stat
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from marketplace import clock, keyfiles
from marketplace.app import create_app
from marketplace.cases.crypto import field_cipher
from marketplace.db import Database
from marketplace.funds.channels import ChannelUnavailable, stripe_client
from marketplace.funds.models import StripeEvent
from marketplace.settings import (
    ENVIRONMENT_VARIABLES,
    LOCAL_FAKE_STRIPE_KEY,
    SettingsError,
    complete_settings,
    get_settings,
    is_published_default,
    load_settings,
)
from tests.funds.support import body, event, intent_succeeded, sign
from tests.support import databases
from tests.support.world import World

ROOT = Path(__file__).resolve().parents[1]
# What this repository shipped as defaults before: a forged district-admin token, a 999,000-yuan "gift" and every
# identity number were theirs.
FORMER_DEFAULTS = (
    "dev-secret-key-change-me-in-production-0123456789",
    "ZGV2LWZpZWxkLWtleS1jaGFuZ2UtbWUtMDEyMzQ1Njc=",
    "whsec_dev_secret",
)
LITERAL = re.compile(r"""(["'`])([^"'`\s]{8,200})\1""")
TOKEN_CHARS = re.compile(r"[A-Za-z0-9_\-+/=.]+")


def _is_base64_key(value: str) -> bool:
    try:
        return len(base64.b64decode(value, validate=True)) in (16, 24, 32, 48, 64)
    except (binascii.Error, ValueError):
        return False


def looks_like_a_secret(value: str) -> bool:
    if re.match(r"(whsec|sk|rk|pk)_", value) or _is_base64_key(value):
        return True
    if re.search(r"secret|key|token|passw", value, re.I):
        return True
    return bool(
        len(value) >= 20 and TOKEN_CHARS.fullmatch(value) and re.search(r"\d", value) and re.search(r"[A-Za-z]", value)
    )


@cache
def repository_secrets() -> tuple[str, ...]:
    """Every string literal in the tracked text files that looks like a key, plus the former defaults and the
    secrets the tests configure."""
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    found: set[str] = set(FORMER_DEFAULTS)
    for name in [*files, "tests/test_secrets.py"]:
        path = ROOT / name
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        found.update(m.group(2) for m in LITERAL.finditer(text) if looks_like_a_secret(m.group(2)))
    ts = databases.test_settings("sqlite://", ROOT)
    found.update({ts.secret_key, ts.field_key, ts.stripe_webhook_secret, ts.stripe_api_key, LOCAL_FAKE_STRIPE_KEY})
    return tuple(sorted(found))


def test_the_repository_scan_finds_what_it_looks_for() -> None:
    found = repository_secrets()
    assert set(FORMER_DEFAULTS) <= set(found)
    assert {"whsec_test_secret", "whsec_localstripe_integration", "sk_test_12345"} <= set(found)
    assert "dGVzdC1maWVsZC1rZXktMDEyMzQ1Njc4OWFiY2RlZjA=" in found  # the tests' field key
    assert looks_like_a_secret(base64.b64encode(bytes(32)).decode())
    assert not looks_like_a_secret("福田区福山社区") and not looks_like_a_secret("application/json")
    assert all(is_published_default(v) for v in FORMER_DEFAULTS)


def forged_token(key: str, user_id: int, role: str) -> str:
    """An HS256 JWT built by hand (no library refuses a short key here), with every claim a real token carries."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    now = int(clock.timestamp())
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = {"sub": str(user_id), "role": role, "ver": 0, "iat": now, "exp": now + 3600}
    signing_input = f"{header}.{b64(json.dumps(claims).encode())}"
    mac = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


@pytest.fixture
def make_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> Iterator[Path]:
    """The environment ``make run`` gives its processes: nothing but the data directory (fresh here), on this
    test's database. Yields the data directory."""
    for name in ENVIRONMENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    data_dir = tmp_path / "var"
    monkeypatch.setenv("MARKETPLACE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("MARKETPLACE_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield data_dir
    get_settings.cache_clear()


async def test_a_token_signed_with_any_key_of_the_repository_gets_401(make_run: Path, world: World) -> None:
    settings = get_settings()
    assert not (set(repository_secrets()) & {settings.secret_key, settings.field_key})
    admin = world.users["admin"]
    async with AsyncTestClient(app=create_app(settings), raise_server_exceptions=False) as client:

        async def me(key: str) -> int:
            headers = {"Authorization": f"Bearer {forged_token(key, admin, 'district_admin')}"}
            return (await client.get("/api/v1/auth/me", headers=headers)).status_code

        # The forgery is faithful: signed with the key the app made for itself, it is accepted.
        assert await me(settings.secret_key) == 200
        answers = {key: await me(key) for key in repository_secrets()}
    assert len(answers) > 50
    assert {k: s for k, s in answers.items() if s != 401} == {}


async def test_a_webhook_signed_with_any_secret_of_the_repository_is_refused(make_run: Path, world: World) -> None:
    settings = get_settings()
    assert settings.stripe_webhook_secret == ""
    raw = body(event("evt_forged", "payment_intent.succeeded", intent_succeeded(1, "pi_forged", 99_900_000)))
    async with AsyncTestClient(app=create_app(settings), raise_server_exceptions=False) as client:
        statuses = set()
        for secret in (*repository_secrets(), ""):
            r = await client.post(
                "/api/v1/webhooks/stripe",
                content=raw,
                headers={"stripe-signature": sign(raw, secret), "content-type": "application/json"},
            )
            assert r.headers["content-type"].startswith("application/problem+json"), r.text
            statuses.add(r.status_code)
        assert "STRIPE_WEBHOOK_SECRET" in r.json()["detail"]
    assert statuses == {503}
    db = Database(settings)
    try:
        async with db.session(write=False) as session:
            assert await session.scalar(select(func.count()).select_from(StripeEvent)) == 0
    finally:
        await db.dispose()


async def test_with_a_webhook_secret_only_its_signature_passes(
    make_run: Path, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = "whsec_" + secrets.token_urlsafe(32)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", real)
    get_settings.cache_clear()
    raw = body(event("evt_unknown", "customer.created", {"id": "cus_1", "object": "customer"}))
    async with AsyncTestClient(app=create_app(get_settings()), raise_server_exceptions=False) as client:

        async def deliver(secret: str) -> int:
            headers = {"stripe-signature": sign(raw, secret), "content-type": "application/json"}
            return (await client.post("/api/v1/webhooks/stripe", content=raw, headers=headers)).status_code

        assert {await deliver(s) for s in repository_secrets()} == {400}
        assert await deliver(real) == 200


def test_key_files_are_made_once_owner_only_and_reused(make_run: Path) -> None:
    assert not make_run.exists()
    first = get_settings()
    secret_file, keys_file = make_run / "secret_key", make_run / "field_keys"
    assert stat.S_IMODE(make_run.stat().st_mode) == 0o700
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    stamps = [(p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes()) for p in (secret_file, keys_file)]
    assert len(first.secret_key) >= 48 and keyfiles.is_raw_key(first.field_key)
    assert first.field_key_file == str(keys_file)
    get_settings.cache_clear()  # as a new process would
    again = get_settings()
    assert (again.secret_key, again.field_key_ring) == (first.secret_key, first.field_key_ring)
    assert [(p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes()) for p in (secret_file, keys_file)] == stamps
    # Reading the settings has no side effect: only get_settings (complete_settings) touches the files.
    assert load_settings({"MARKETPLACE_DATA_DIR": str(make_run / "elsewhere")}).secret_key == ""
    assert not (make_run / "elsewhere").exists()


def test_a_key_file_left_readable_by_others_is_closed(make_run: Path) -> None:
    make_run.mkdir(mode=0o755)
    get_settings()
    assert stat.S_IMODE(make_run.stat().st_mode) == 0o755  # an existing directory is the operator's
    (make_run / "secret_key").chmod(0o644)
    get_settings.cache_clear()
    get_settings()
    assert stat.S_IMODE((make_run / "secret_key").stat().st_mode) == 0o600


def _python(code: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENVIRONMENT_VARIABLES}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


def test_processes_starting_together_share_one_set_of_keys(tmp_path: Path) -> None:
    env = clean_env(MARKETPLACE_DATA_DIR=str(tmp_path / "var"))
    code = (
        "from marketplace.settings import get_settings; s = get_settings(); "
        "print(s.secret_key, s.field_key_ring[0].id, s.field_key)"
    )
    procs = [_python(code, env) for _ in range(4)]
    outputs = {p.communicate(timeout=120)[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    assert len(outputs) == 1
    assert sorted(p.name for p in (tmp_path / "var").iterdir()) == ["field_keys", "secret_key"]  # no leftovers


def test_the_demo_loader_and_the_app_read_the_same_field_key(make_run: Path, world: World) -> None:
    """A ciphertext the demo loader's process makes (its own settings, read from the files) opens in the app's."""
    made = subprocess.run(
        [
            sys.executable,
            "-c",
            "from marketplace.cases.crypto import field_cipher; from marketplace.settings import get_settings; "
            "print(field_cipher(get_settings()).encrypt('440304201501019911', 'children.id_number'))",
        ],
        cwd=ROOT,
        env=clean_env(MARKETPLACE_DATA_DIR=str(make_run)),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.strip()
    settings = get_settings()
    assert made.startswith(f"v2:{settings.field_key_ring[0].id}:")
    assert field_cipher(settings).decrypt(made, "children.id_number") == "440304201501019911"


# ---------------------------------------------------------------- production


def marketplace_command(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "marketplace.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def strong_secrets() -> dict[str, str]:
    return {
        "MARKETPLACE_SECRET_KEY": secrets.token_urlsafe(48),
        "MARKETPLACE_FIELD_KEYS": "k1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
        "STRIPE_API_KEY": "sk_live_" + secrets.token_urlsafe(32),
        "STRIPE_WEBHOOK_SECRET": "whsec_" + secrets.token_urlsafe(32),
    }


@pytest.mark.parametrize("command", [["serve", "--port", "1"], ["worker"]])
def test_production_without_secrets_refuses_to_start(tmp_path: Path, command: list[str]) -> None:
    data_dir = tmp_path / "var"
    env = clean_env(MARKETPLACE_ENV="production", MARKETPLACE_DATA_DIR=str(data_dir), REDIS_URL="redis://x")
    result = marketplace_command(command, env)
    assert result.returncode == 2, result.stdout + result.stderr
    message = result.stderr
    assert "Traceback" not in message and "serving on" not in result.stdout
    assert "MARKETPLACE_ENV=production" in message
    for name in ("MARKETPLACE_SECRET_KEY", "MARKETPLACE_FIELD_KEYS", "STRIPE_API_KEY", "STRIPE_WEBHOOK_SECRET"):
        assert name in message, message
    assert not data_dir.exists()  # production never makes key files


def test_production_refuses_weak_and_published_secrets(tmp_path: Path) -> None:
    env = clean_env(
        MARKETPLACE_ENV="production",
        MARKETPLACE_DATA_DIR=str(tmp_path),
        MARKETPLACE_SECRET_KEY="short-but-random-Qx7",
        MARKETPLACE_FIELD_KEY=FORMER_DEFAULTS[1],
        STRIPE_API_KEY="sk_test_12345",
        STRIPE_WEBHOOK_SECRET="whsec_localstripe_integration",
    )
    result = marketplace_command(["serve", "--port", "1"], env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.splitlines()

    def problem(name: str, why: str) -> bool:
        return any(name in line and why in line for line in lines)

    assert problem("MARKETPLACE_SECRET_KEY", "shorter than 32")
    assert problem("MARKETPLACE_FIELD_KEYS", "published in this repository")
    assert problem("STRIPE_API_KEY", "found in this repository")
    assert problem("STRIPE_WEBHOOK_SECRET", "found in this repository")
    assert not problem("not set", "")


def test_production_with_strong_secrets_runs(tmp_path: Path) -> None:
    env = clean_env(MARKETPLACE_ENV="production", MARKETPLACE_DATA_DIR=str(tmp_path / "var"), **strong_secrets())
    result = marketplace_command(["openapi"], env)
    assert result.returncode == 0, result.stderr
    assert '"/api/v1/webhooks/stripe"' in result.stdout
    assert not (tmp_path / "var" / "secret_key").exists() and not (tmp_path / "var" / "field_keys").exists()


def test_each_secret_is_checked_on_its_own() -> None:
    good = strong_secrets()
    complete_settings(load_settings({"MARKETPLACE_ENV": "production", **good}))
    for name in good:
        with pytest.raises(SettingsError) as missing:
            complete_settings(load_settings({"MARKETPLACE_ENV": "production", **good, name: ""}))
        assert missing.value.problems[0].startswith("not set: ") and name in missing.value.problems[0]
    with pytest.raises(SettingsError, match="not base64 of 32"):
        complete_settings(load_settings({"MARKETPLACE_ENV": "production", **good, "MARKETPLACE_FIELD_KEYS": "k:pw"}))
    # The current field key never is a published one; an older key only decrypts (even the former default: the
    # data it sealed must be moved away from it), so it is kept, and warned about.
    published = "old:" + FORMER_DEFAULTS[1]
    with pytest.raises(SettingsError, match="MARKETPLACE_FIELD_KEYS: a value published"):
        complete_settings(load_settings({"MARKETPLACE_ENV": "production", **good, "MARKETPLACE_FIELD_KEYS": published}))
    ring = good["MARKETPLACE_FIELD_KEYS"] + "," + published
    rotating = complete_settings(
        load_settings({"MARKETPLACE_ENV": "production", **good, "MARKETPLACE_FIELD_KEYS": ring})
    )
    assert [k.id for k in rotating.field_key_ring] == ["k1", "old"]
    # The local fake's placeholder Stripe key exists only in development.
    fake = {"STRIPE_API_BASE": "http://127.0.0.1:8420"}
    assert load_settings(fake).stripe_api_key == LOCAL_FAKE_STRIPE_KEY
    assert load_settings({"MARKETPLACE_ENV": "production", **fake}).stripe_api_key == ""
    assert load_settings({}).stripe_api_key == ""
    with pytest.raises(ValueError, match="MARKETPLACE_ENV"):
        load_settings({"MARKETPLACE_ENV": "prod"})


def test_development_refuses_the_former_defaults_too(tmp_path: Path) -> None:
    for name, value in [
        ("MARKETPLACE_SECRET_KEY", FORMER_DEFAULTS[0]),
        ("MARKETPLACE_FIELD_KEY", FORMER_DEFAULTS[1]),
        ("STRIPE_WEBHOOK_SECRET", FORMER_DEFAULTS[2]),
    ]:
        with pytest.raises(SettingsError, match=name):
            complete_settings(load_settings({"MARKETPLACE_DATA_DIR": str(tmp_path), name: value}))


def test_online_payments_without_a_stripe_key_are_unavailable(make_run: Path) -> None:
    settings = get_settings()
    with pytest.raises(ChannelUnavailable, match="STRIPE_API_KEY"):
        stripe_client(settings)
    assert field_cipher(settings).current_id == settings.field_key_ring[0].id
