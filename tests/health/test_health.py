"""The three health endpoints (marketplace.health), and what every route answers when the database is out of reach.

The database "out of reach" here is one the app cannot open at all: a SQLite file in a directory that does not
exist ("unable to open database file"), or a PostgreSQL port nothing listens on (connection refused). The outage of
a running PostgreSQL, stopped and started again under a served app, is tests/integration/test_db_outage.py.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, text

from marketplace.app import create_app
from marketplace.audit.models import AuditEntry
from marketplace.db import Database
from marketplace.errors import DATABASE_UNAVAILABLE
from marketplace.health import PROBE_PATHS, PROBE_THREADS
from marketplace.outbox import OutboxEvent
from marketplace.settings import ReadyTimeouts, Settings, load_settings
from search import INDEX_NAMES
from tests.admin.console import csrf_of
from tests.conftest import assert_problem
from tests.support import figures, servers
from tests.support.world import PASSWORD

SUITE = "Outages"
BACKEND = os.environ.get("TEST_DATABASE", "sqlite")


def unreachable_database(settings: Settings, tmp_path: Path) -> str:
    if settings.is_sqlite:
        return f"sqlite:///{tmp_path / 'no-such-directory' / 'marketplace.db'}"
    return f"postgresql://postgres@127.0.0.1:{servers.free_port()}/postgres"


@pytest.fixture
async def no_database(settings: Settings, tmp_path: Path) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """The app on a database it cannot reach (nothing else differs: the same keys, so the tokens of the healthy
    app are good here)."""
    app = create_app(replace(settings, database_url=unreachable_database(settings, tmp_path)))
    async with AsyncTestClient(app=app, raise_server_exceptions=False) as client:
        yield client


async def database_heads(db: Database) -> list[str]:
    """What ``marketplace migrate`` left in the database (the suite's databases are migrated to the code's heads)."""
    async with db.session(write=False) as s:
        return sorted((await s.scalars(text("SELECT version_num FROM alembic_version"))).all())


# ---------------------------------------------------------------- a healthy deployment


async def test_live_answers_ok(client: AsyncTestClient[Litestar]) -> None:
    r = await client.get("/health/live")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


async def test_ready_checks_the_database_and_search_and_skips_the_eager_broker(
    client: AsyncTestClient[Litestar],
) -> None:
    r = await client.get("/health/ready")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ok"
    checks = body["checks"]
    assert set(checks) == {"database", "broker", "search"}
    assert checks["database"]["status"] == "ok" and checks["search"]["status"] == "ok"
    assert checks["broker"] == {"status": "skipped", "duration_ms": 0.0, "detail": "eager (in process)"}
    for name in ("database", "search"):
        assert 0 <= checks[name]["duration_ms"] < 2000, checks[name]


async def test_health_for_people_says_versions_migrations_outbox_and_search(
    client: AsyncTestClient[Litestar], db: Database
) -> None:
    async with db.session() as s:
        s.add_all([OutboxEvent(topic="test.health", payload={"n": n}) for n in range(3)])
    async with db.session(write=False) as s:
        pending = await s.scalar(select(func.count()).where(OutboxEvent.processed_at.is_(None)))
    r = await client.get("/health")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ok", str(body)
    assert (body["database"], body["search"], body["broker"]) == ("ok", "ok", "eager (in process)")
    assert body["outbox_pending"] == pending and pending >= 3
    assert set(body["search_documents"]) == set(INDEX_NAMES)
    assert all(isinstance(n, int) and n >= 0 for n in body["search_documents"].values())
    lag = body["search_lag"]
    assert lag["engine"] and lag["pending_documents"] >= 0 and set(lag["pending_by_index"]) <= set(INDEX_NAMES)
    migrations = body["versions"]["migrations"]
    heads = await database_heads(db)
    assert migrations == {"code": heads, "database": heads, "current": True}
    assert body["versions"]["app"] and body["versions"]["python"].startswith("3.")
    assert set(body["checks"]) == {"database", "broker", "search"}


async def test_health_says_degraded_when_the_database_is_not_at_the_codes_migrations(
    client: AsyncTestClient[Litestar], db: Database
) -> None:
    heads = await database_heads(db)
    async with db.session() as s:
        await s.execute(text("DELETE FROM alembic_version"))
        await s.execute(text("INSERT INTO alembic_version (version_num) VALUES ('0001')"))
    try:
        body = (await client.get("/health")).json()
        assert body["status"] == "degraded"
        assert body["versions"]["migrations"]["current"] is False
        assert "0001" in body["versions"]["migrations"]["database"]
        # Serving is not the migrations' business: ready stays 200.
        assert (await client.get("/health/ready")).status_code == 200
    finally:
        async with db.session() as s:
            await s.execute(text("DELETE FROM alembic_version"))
            for head in heads:
                await s.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": head})


async def test_the_probes_are_anonymous_unaudited_and_write_nothing(
    client: AsyncTestClient[Litestar], db: Database
) -> None:
    async with db.session(write=False) as s:
        audits = await s.scalar(select(func.count()).select_from(AuditEntry))
    for _ in range(10):
        for path in sorted(PROBE_PATHS):
            r = await client.get(path)
            assert r.status_code == 200, (path, r.text)
            assert "set-cookie" not in r.headers
    async with db.session(write=False) as s:
        assert await s.scalar(select(func.count()).select_from(AuditEntry)) == audits


async def test_the_probes_are_in_the_api_contract(client: AsyncTestClient[Litestar]) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    for path, operation in (("/health/live", "health_live"), ("/health/ready", "health_ready"), ("/health", "health")):
        get = schema["paths"][path]["get"]
        assert get["operationId"] == operation
        assert "503" in get["responses"], path
        assert get["security"] == [{}], path  # anonymous: no token


# ---------------------------------------------------------------- a dependency that fails


async def test_a_hung_search_backend_makes_ready_503_within_its_timeout(settings: Settings, world: Any) -> None:
    app = create_app(replace(settings, ready_timeouts=ReadyTimeouts(search=0.3)))

    running = [0, 0]  # now, most at once
    lock = threading.Lock()
    release = threading.Event()

    def hang() -> str:
        with lock:
            running[0] += 1
            running[1] = max(running)
        release.wait(10.0)
        with lock:
            running[0] -= 1
        return "ok"

    app.state.search.health = hang
    async with AsyncTestClient(app=app, raise_server_exceptions=False) as client:
        started = time.monotonic()
        r = await client.get("/health/ready")
        took = time.monotonic() - started
        body = assert_problem(r, 503)
        assert took < 1.5, took
        assert r.headers["retry-after"] == "5"
        assert body["failing"] == ["search"]
        assert body["checks"]["search"]["status"] == "timeout"
        assert body["checks"]["database"]["status"] == "ok"
        assert "search" in body["detail"]
        people = await client.get("/health")
        assert people.status_code == 200
        assert people.json()["status"] == "degraded"
        assert people.json()["search"].startswith("unavailable")
        assert people.json()["search_documents"] is None
        assert (await client.get("/health/live")).status_code == 200
        # Probes every few tenths of a second at the hung backend: each answers within its timeout, and the threads
        # they leave behind stay few (requests need the rest).
        for _ in range(6):
            started = time.monotonic()
            assert (await client.get("/health/ready")).status_code == 503
            assert time.monotonic() - started < 1.5
        assert running[1] <= 2, running
    # The backend answers again: the hung calls end, and the next probes get their threads back.
    release.set()
    for _ in range(100):
        if PROBE_THREADS.busy == 0:
            break
        await asyncio.sleep(0.05)
    assert PROBE_THREADS.busy == 0


async def test_a_broker_out_of_reach_makes_ready_503(settings: Settings, world: Any) -> None:
    broker = f"redis://127.0.0.1:{servers.free_port()}/0"
    app = create_app(replace(settings, redis_url=broker, task_always_eager=False))
    async with AsyncTestClient(app=app, raise_server_exceptions=False) as client:
        r = await client.get("/health/ready")
        body = assert_problem(r, 503)
        assert body["failing"] == ["broker"], body
        assert body["checks"]["broker"]["status"] in {"unavailable", "timeout"}
        assert int(r.headers["retry-after"]) >= 1
        people = (await client.get("/health")).json()
        assert people["status"] == "degraded"
        assert people["broker"].startswith("unavailable") and people["database"] == "ok"


# ---------------------------------------------------------------- the database out of reach


async def test_without_its_database_every_route_answers_503_and_the_probes_say_so(
    client: AsyncTestClient[Litestar], auth: Any, no_database: AsyncTestClient[Litestar]
) -> None:
    token = await auth("director")  # from the healthy app: the same keys
    answers: list[tuple[str, int]] = []

    async def ask(method: str, path: str, **kwargs: Any) -> Any:
        r = await no_database.request(method, path, **kwargs)
        answers.append((f"{method} {path}", r.status_code))
        return r

    assert (await ask("GET", "/health/live")).json() == {"status": "ok"}

    r = await ask("GET", "/health/ready")
    body = assert_problem(r, 503)
    assert body["failing"] == ["database"] and body["checks"]["database"]["status"] in {"unavailable", "timeout"}
    assert r.headers["retry-after"] == "5"

    r = await ask("GET", "/health")
    assert r.status_code == 200
    people = r.json()
    assert people["status"] == "down" and people["database"].startswith("unavailable")
    assert people["outbox_pending"] is None and people["versions"]["migrations"]["database"] is None

    for method, path, kwargs in (
        ("GET", "/api/v1/children", {"headers": token}),  # a read of children's data (audited)
        ("GET", "/api/v1/referrals", {"headers": token}),
        ("POST", "/api/v1/auth/login", {"json": {"username": "director", "password": PASSWORD}}),
        ("POST", "/api/v1/referrals", {"json": {"need_id": 1, "service_id": 1}, "headers": token}),
    ):
        r = await ask(method, path, **kwargs)
        problem = assert_problem(r, 503)
        assert problem["detail"] == DATABASE_UNAVAILABLE, problem
        assert r.headers["retry-after"] == "5"

    # The console: its login page needs no database; signing in and a signed-in page answer its 503 page.
    page = await ask("GET", "/admin/login")
    assert page.status_code == 200
    r = await ask(
        "POST",
        "/admin/login",
        data={"_csrf_token": csrf_of(page.text), "username": "director", "password": PASSWORD, "next": "/admin/"},
    )
    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith("text/html") and r.headers["retry-after"] == "5"
    assert "503 · 服务暂时不可用" in r.text and "没有保存" in r.text and "数据库暂时无法连接" in r.text
    no_database.cookies.set("mp_console", "a" * 32)
    r = await ask("GET", "/admin/children?page=2")
    assert r.status_code == 503, r.text
    assert "重新加载此页" in r.text and 'href="/admin/children?page=2"' in r.text
    r = await ask("GET", "/admin/children", headers={"HX-Request": "true"})
    assert r.status_code == 503 and r.headers["hx-retarget"] == "#flash" and "数据库暂时无法连接" in r.text

    others = [answer for answer in answers if answer[1] >= 500 and answer[1] != 503]
    figures.record(SUITE, "requests without a database (in process)", len(answers))
    figures.record(SUITE, "5xx other than 503", len(others))
    assert others == []


async def test_ready_answers_within_its_timeout_whatever_the_database_does(settings: Settings, world: Any) -> None:
    """A database that accepts the connection and never answers (a firewall dropping packets, a hung server) costs
    the probe its timeout, not the driver's."""
    server = await asyncio.start_server(lambda r, w: asyncio.sleep(30), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    silent = f"postgresql://postgres@127.0.0.1:{port}/postgres"  # PostgreSQL whatever the suite's database
    app = create_app(replace(settings, database_url=silent, ready_timeouts=ReadyTimeouts(database=0.5)))
    try:
        async with AsyncTestClient(app=app, raise_server_exceptions=False) as client:
            started = time.monotonic()
            r = await client.get("/health/ready")
            took = time.monotonic() - started
            body = assert_problem(r, 503)
            assert body["checks"]["database"]["status"] == "timeout", body
            assert took < 2.0, took
    finally:
        server.close()


def test_the_readiness_timeouts_come_from_the_environment_within_bounds() -> None:
    assert load_settings({}).ready_timeouts == ReadyTimeouts(database=2.0, broker=1.0, search=1.0)
    given = load_settings(
        {
            "MARKETPLACE_READY_DATABASE_TIMEOUT": "0.5",
            "MARKETPLACE_READY_BROKER_TIMEOUT": "3",
            "MARKETPLACE_READY_SEARCH_TIMEOUT": "30",
        }
    )
    assert given.ready_timeouts == ReadyTimeouts(database=0.5, broker=3.0, search=30.0)
    for name in ("DATABASE", "BROKER", "SEARCH"):
        for bad in ("0", "-1", "31", "nan", "abc"):
            with pytest.raises(ValueError, match=f"MARKETPLACE_READY_{name}_TIMEOUT|could not convert"):
                load_settings({f"MARKETPLACE_READY_{name}_TIMEOUT": bad})
