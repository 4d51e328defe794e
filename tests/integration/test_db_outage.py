"""Outages of what the app depends on, while it serves, and its recovery without a restart (issue #18).

- PostgreSQL of the test's own, migrated, stopped under the app: the liveness probe still answers 200, readiness 503
  (problem+json, ``Retry-After``), the API's reads and writes and the console's pages and forms 503 (never 500),
  ``/health`` 200 with the database ``unavailable``; a transaction open across the stop fails its commit with an
  error the app counts as an outage. Started again: ready 200 within seconds and every request works again, the
  same app object serving (its pools find their dead connections by themselves).
- Redis (the broker, configured, tasks not eager) killed: readiness 503 naming the broker; started again: 200.

Runs on PostgreSQL (``TEST_DATABASE=postgresql``): the outage of a SQLite file is tests/health/test_health.py.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import migrate
from marketplace.app import create_app
from marketplace.db import Database
from marketplace.errors import DATABASE_UNAVAILABLE, database_unavailable
from marketplace.outbox import OutboxEvent
from marketplace.settings import Settings
from tests.admin.console import console_login
from tests.conftest import assert_problem
from tests.support import databases, figures, servers
from tests.support.servers import RedisProcess
from tests.support.world import PASSWORD, build_world

pytestmark = pytest.mark.integration

SUITE = "Outages"
BACKEND = os.environ.get("TEST_DATABASE", "sqlite")
ROUNDS = 3  # each request of the outage is made this many times


class PostgresProcess:
    """A throwaway PostgreSQL cluster on a fixed port that a test stops and starts again (as an operator's restart
    or a failover does to a running app)."""

    def __init__(self) -> None:
        self.bin = servers._pg_bin()
        self.root = Path(tempfile.mkdtemp(prefix="mp-pg-outage-"))
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self.data = self.root / "data"
        self.port = servers.free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        initdb = [str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8"]
        subprocess.run(servers._as_postgres([*initdb, "--locale=C.UTF-8"]), check=True, capture_output=True)

    def _ctl(self, *args: str) -> None:
        subprocess.run(servers._as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), *args]), check=True)

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
        self._ctl("-o", opts, "-l", str(self.root / "log"), "-w", "-s", "start")

    def stop(self) -> None:
        """A fast shutdown: open sessions are ended (their transactions rolled back), as a restart does."""
        self._ctl("-m", "fast", "-w", "-s", "stop")

    def close(self) -> None:
        subprocess.run(
            servers._as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def own_postgres() -> Iterator[PostgresProcess]:
    server = PostgresProcess()
    server.start()
    try:
        yield server
    finally:
        server.close()


def drop_connections(url: str) -> int:
    """End every other session of the server (``pg_terminate_backend``), as a failover or a network cut does."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE pid <> pg_backend_pid() AND datname = current_database()"
        ).fetchall()
    return sum(1 for (ended,) in rows if ended)


class Answers:
    """Every answer of the outage, by request."""

    def __init__(self) -> None:
        self.all: list[tuple[str, int]] = []

    def add(self, what: str, status: int) -> None:
        self.all.append((what, status))

    @property
    def other_server_errors(self) -> list[tuple[str, int]]:
        return [(what, status) for what, status in self.all if status >= 500 and status != 503]


async def wait_ready(client: AsyncTestClient[Litestar], within: float) -> float:
    started = time.monotonic()
    while True:
        r = await client.get("/health/ready")
        if r.status_code == 200:
            return time.monotonic() - started
        assert time.monotonic() - started < within, r.text
        await asyncio.sleep(0.2)


@pytest.mark.skipif(BACKEND != "postgresql", reason="a PostgreSQL server stopped and started: TEST_DATABASE=postgresql")
async def test_postgresql_stopped_and_started_under_the_app(own_postgres: PostgresProcess, tmp_path: Path) -> None:
    settings = databases.test_settings(own_postgres.url, tmp_path)
    await asyncio.to_thread(migrate.upgrade, settings)
    setup = Database(settings)
    async with setup.session() as s:
        await build_world(s)
    await setup.dispose()

    app = create_app(settings)
    answers = Answers()
    async with AsyncTestClient(app=app, raise_server_exceptions=False) as client:
        r = await client.post("/api/v1/auth/login", json={"username": "director", "password": PASSWORD})
        token = {"Authorization": f"Bearer {r.json()['access_token']}"}
        csrf = await console_login(client, "director")
        assert (await client.get("/api/v1/children", headers=token)).status_code == 200
        assert (await client.get("/health/ready")).status_code == 200

        # A unit of work open across the stop (on engines of this test's event loop: the app runs on its own) meets
        # the outage when it commits.
        db = Database(settings)
        held: AsyncSession = db.sessionmaker()
        held.add(OutboxEvent(topic="test.outage", payload={}))
        await held.flush()

        await asyncio.to_thread(own_postgres.stop)
        try:
            with pytest.raises(Exception) as commit:
                await held.commit()
            assert database_unavailable(commit.value), repr(commit.value)
        finally:
            await held.close()
            await db.dispose()

        for _ in range(ROUNDS):
            r = await client.get("/health/live")
            answers.add("GET /health/live", r.status_code)
            assert r.status_code == 200 and r.json() == {"status": "ok"}

            r = await client.get("/health/ready")
            answers.add("GET /health/ready", r.status_code)
            body = assert_problem(r, 503)
            assert body["failing"] == ["database"] and r.headers["retry-after"] == "5"

            r = await client.get("/health")
            answers.add("GET /health", r.status_code)
            assert r.status_code == 200
            assert r.json()["status"] == "down" and r.json()["database"].startswith("unavailable"), r.text

            for method, path, kwargs in (
                ("GET", "/api/v1/children", {"headers": token}),
                ("GET", "/api/v1/referrals", {"headers": token}),
                ("POST", "/api/v1/auth/login", {"json": {"username": "director", "password": PASSWORD}}),
                ("POST", "/api/v1/referrals", {"json": {"need_id": 1, "service_id": 1}, "headers": token}),
            ):
                r = await client.request(method, path, **kwargs)
                answers.add(f"{method} {path}", r.status_code)
                problem = assert_problem(r, 503)
                assert problem["detail"] == DATABASE_UNAVAILABLE and r.headers["retry-after"] == "5"

            for method, path, kwargs in (
                ("GET", "/admin/", {}),
                ("GET", "/admin/children", {}),
                ("GET", "/admin/children", {"headers": {"HX-Request": "true"}}),
                ("POST", "/admin/password", {"data": {"_csrf_token": csrf, "current": "x", "new": "y"}}),
            ):
                r = await client.request(method, path, **kwargs)
                answers.add(f"console {method} {path}", r.status_code)
                assert r.status_code == 503, (method, path, r.status_code, r.text[:500])
                assert r.headers["retry-after"] == "5" and "数据库暂时无法连接" in r.text

        await asyncio.to_thread(own_postgres.start)
        ready_after = await wait_ready(client, within=30)

        # The same app, not restarted: every kind of request works again.
        assert (await client.get("/api/v1/children", headers=token)).status_code == 200
        r = await client.post("/api/v1/auth/login", json={"username": "director", "password": PASSWORD})
        assert r.status_code == 200, r.text
        home = await client.get("/admin/")
        assert home.status_code == 200, home.text[:500]
        health = (await client.get("/health")).json()
        assert health["status"] == "ok" and health["database"] == "ok", health

        # A failover's other face: the server stays up but every connection the app holds is dropped. The pools
        # find them dead before use (pre-ping) and connect again: the next requests answer as usual.
        dropped = await asyncio.to_thread(drop_connections, own_postgres.url)
        assert dropped >= 1
        after_drop = [
            (await client.get("/api/v1/children", headers=token)).status_code,
            (await client.get("/admin/")).status_code,
            (await client.post("/api/v1/auth/login", json={"username": "director", "password": PASSWORD})).status_code,
            (await client.get("/health/ready")).status_code,
        ]
        assert after_drop == [200, 200, 200, 200], after_drop

    figures.record(SUITE, "requests during a database outage", len(answers.all))
    figures.record(SUITE, "5xx other than 503", len(answers.other_server_errors))
    figures.record(SUITE, "seconds until ready after the database's restart", round(ready_after, 2))
    figures.record(SUITE, "connections dropped under the app", dropped)
    assert answers.other_server_errors == []


async def test_redis_killed_and_started_again_under_the_app(
    settings: Settings, own_redis: RedisProcess, world: Any
) -> None:
    app = create_app(replace(settings, redis_url=own_redis.url, task_always_eager=False))
    async with AsyncTestClient(app=app, raise_server_exceptions=False) as client:
        r = await client.get("/health/ready")
        assert r.status_code == 200 and r.json()["checks"]["broker"]["status"] == "ok", r.text
        own_redis.kill()
        r = await client.get("/health/ready")
        body = assert_problem(r, 503)
        assert body["failing"] == ["broker"] and body["checks"]["database"]["status"] == "ok"
        people = await client.get("/health")
        assert people.status_code == 200 and people.json()["status"] == "degraded"
        assert people.json()["broker"].startswith("unavailable")
        own_redis.start()
        await wait_ready(client, within=10)
    figures.record(SUITE, "Redis outages seen by readiness", 1)
