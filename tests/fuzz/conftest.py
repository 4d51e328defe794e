"""The app under granian on a free port, over one database loaded with the Futian demo (shared by the module)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from marketplace.demo.loader import load_demo
from tests.support.databases import PostgresTemplate, SqliteTemplate, test_settings
from tests.support.servers import free_port, stop, wait_port

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "demo-password"


@dataclass(frozen=True)
class DemoServer:
    url: str
    log: Path

    def login(self, username: str) -> dict[str, str]:
        r = httpx.post(f"{self.url}/api/v1/auth/login", json={"username": username, "password": PASSWORD}, timeout=10)
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    def tail(self, chars: int = 6000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


@pytest.fixture(scope="module")
def demo_server(
    db_template: SqliteTemplate | PostgresTemplate, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoServer]:
    tmp = tmp_path_factory.mktemp("fuzz")
    url = db_template.new_database(tmp)
    asyncio.run(load_demo(test_settings(url, tmp)))
    port = free_port()
    log = tmp / "server.log"
    env = {**os.environ, "FUZZ_DATABASE_URL": url, "FUZZ_TMP": str(tmp), "PYTHONPATH": str(ROOT)}
    env.pop("REDIS_URL", None)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "granian",
                "--interface",
                "asgi",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
                "tests.fuzz.app_factory:make",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_port(port, timeout=120)  # a loaded machine starts granian slowly
        deadline = time.monotonic() + 60
        while httpx.get(f"{base}/health", timeout=2).status_code != 200:
            if time.monotonic() > deadline:
                raise TimeoutError("app not healthy")
            time.sleep(0.1)
        yield DemoServer(base, log)
    finally:
        stop(proc)
        if isinstance(db_template, PostgresTemplate):
            db_template.drop(url)
