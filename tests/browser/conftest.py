"""A real server on a free port over the per-test database, and Debian's chromium driven by Playwright."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support.servers import granian_app

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def served(factory: str, database_url: str, tmp_path: Path, *, timeout: float = 30) -> Iterator[str]:
    """The app made by ``factory`` ("module:function") served by granian on a free port, its log in ``tmp_path``."""
    env = {
        **os.environ,
        "BROWSER_TEST_DATABASE_URL": database_url,
        "BROWSER_TEST_TMP": str(tmp_path),
        "PYTHONPATH": str(ROOT),
    }
    with granian_app(factory, env, tmp_path / "server.log", timeout=timeout, health=False) as base:
        yield base


@pytest.fixture
def live_server(database_url: str, world: Any, tmp_path: Path) -> Iterator[str]:
    with served("tests.browser.app_factory:make", database_url, tmp_path) as base:
        yield base


@pytest.fixture
def browser() -> Iterator[Any]:
    """Per test, and set up after the database fixtures: Playwright's sync API keeps an event loop running in
    this thread, so the async fixtures must have finished theirs before it starts (request it last)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed: run `bash scripts/system-deps.sh`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS
