"""Fixtures for the Stripe integration tests: localstripe (the Stripe fake from PyPI) and the app served on a
real port, so localstripe can deliver its signed webhooks to it.

Import them explicitly into a test module: ``from tests.integration.conftest_stripe import localstripe, stripe_app``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest

from marketplace.settings import Settings
from tests.support.servers import free_port, granian_app, stop, wait_port

WEBHOOK_SECRET = "whsec_localstripe_integration"


@pytest.fixture(scope="session")
def localstripe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A localstripe server on a free port; yields its base URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("localstripe") / "localstripe.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "localstripe", "--port", str(port), "--from-scratch"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_port(port, timeout=30)
    except TimeoutError:
        stop(proc)
        raise RuntimeError("localstripe did not start:\n" + log.read_text(errors="replace")[-3000:]) from None
    yield f"http://127.0.0.1:{port}"
    stop(proc)


@dataclass(frozen=True)
class LiveApp:
    url: str
    settings: Settings
    log: Path


@pytest.fixture
def stripe_app(settings: Settings, world: object, localstripe: str, tmp_path: Path) -> Iterator[LiveApp]:
    """The app under granian on a free port, on the per-test database, talking to localstripe, with
    localstripe's webhook endpoint pointed at it and signing with the shared secret."""
    live = replace(
        settings, stripe_api_base=localstripe, stripe_webhook_secret=WEBHOOK_SECRET, stripe_api_key="sk_test_local"
    )
    env = {
        **os.environ,
        "MARKETPLACE_DATABASE_URL": live.database_url,
        "MARKETPLACE_SECRET_KEY": live.secret_key,
        "MARKETPLACE_FIELD_KEY": live.field_key,
        "MARKETPLACE_SEARCH_PATH": live.search_path,
        "MARKETPLACE_TASKS_EAGER": "1",
        "MARKETPLACE_LOGIN_RATE_LIMIT": "1000",
        "STRIPE_API_BASE": localstripe,
        "STRIPE_API_KEY": live.stripe_api_key,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }
    env.pop("REDIS_URL", None)
    log = tmp_path / "app.log"
    with granian_app("marketplace.asgi:app", env, log, factory=False, timeout=30) as url:
        r = httpx.post(
            f"{localstripe}/_config/webhooks/marketplace",
            data={"url": f"{url}/api/v1/webhooks/stripe", "secret": WEBHOOK_SECRET},
            timeout=5,
        )
        r.raise_for_status()
        yield LiveApp(url, live, log)
