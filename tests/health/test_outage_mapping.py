"""Which errors mean "the database is out of reach or busy: 503, retry" (``marketplace.errors.database_unavailable``),
told from the real errors of the real drivers, and what a request answers for each; an ordinary refusal of the
database (a unique key, a query it cannot run) keeps its own answer (409, 500)."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import pytest
from litestar import Litestar, get
from litestar.params import PathParameter
from litestar.testing import AsyncTestClient
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import QueuePool

from marketplace.app import create_app
from marketplace.audit import service as audit
from marketplace.audit.writer import AuditUnavailable, AuditWriter
from marketplace.auth.models import User
from marketplace.db import Database
from marketplace.deps import DbSession
from marketplace.errors import DATABASE_BUSY, DATABASE_UNAVAILABLE, database_busy, database_unavailable
from marketplace.settings import Settings, to_async_url, to_sync_url
from tests.conftest import assert_problem
from tests.support import servers


def unreachable_url(settings: Settings, tmp_path: Path) -> str:
    if settings.is_sqlite:
        return f"sqlite:///{tmp_path / 'gone' / 'x.db'}"
    return f"postgresql://postgres@127.0.0.1:{servers.free_port()}/postgres"


async def error_of(work: Any) -> BaseException:
    try:
        await work
    except Exception as exc:
        return exc
    raise AssertionError("no error")


async def test_connecting_to_an_absent_database_is_an_outage_for_every_driver(
    settings: Settings, tmp_path: Path
) -> None:
    url = unreachable_url(settings, tmp_path)
    engine = create_async_engine(to_async_url(url))  # asyncpg / aiosqlite: the requests' sessions

    async def select_async() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    sync = create_engine(to_sync_url(url))  # psycopg / sqlite3: the hot reads

    def select_sync() -> None:
        with sync.connect() as conn:
            conn.execute(text("SELECT 1"))

    try:
        for exc in (await error_of(select_async()), await error_of(asyncio.to_thread(select_sync))):
            assert database_unavailable(exc), repr(exc)
            assert not database_busy(exc), repr(exc)
    finally:
        await engine.dispose()
        sync.dispose()


async def test_a_pool_with_no_connection_free_in_time_is_an_outage(db: Database, settings: Settings) -> None:
    engine = create_engine(
        settings.sync_database_url, poolclass=QueuePool, pool_size=1, max_overflow=0, pool_timeout=0.1
    )
    try:
        with engine.connect():
            exc = await error_of(asyncio.to_thread(engine.connect))
        assert database_unavailable(exc), repr(exc)
    finally:
        engine.dispose()


async def test_refusals_of_the_database_and_other_errors_are_not_outages(db: Database, world: Any) -> None:
    async with db.sessionmaker() as s:
        duplicate = await error_of(
            s.execute(
                text(
                    "INSERT INTO users (username, display_name, password_hash, role)"
                    " SELECT username, 'x', 'x', 'district_admin' FROM users LIMIT 1"
                )
            )
        )
        await s.rollback()
        no_table = await error_of(s.execute(text("SELECT * FROM no_such_table")))
        await s.rollback()
    assert isinstance(duplicate, IntegrityError)
    assert not database_unavailable(duplicate)
    assert not database_unavailable(no_table), repr(no_table)  # sqlite3 calls it an OperationalError too
    assert not database_unavailable(ValueError("bad"))
    # A socket error that did not come from reaching the database (a call to another service) is not one either.
    with socket.socket() as sock:
        refused = await error_of(asyncio.to_thread(sock.connect, ("127.0.0.1", servers.free_port())))
    assert isinstance(refused, ConnectionRefusedError) and not database_unavailable(refused)


@get("/test/db/{kind:str}", opt={"writes": True})
async def raising(kind: Annotated[str, PathParameter()], session: DbSession) -> dict[str, str]:
    """Meets the database's refusals, as a feature's code might."""
    if kind == "duplicate":
        user = (await session.execute(text("SELECT username FROM users LIMIT 1"))).scalar_one()
        session.add(User(username=user, password_hash="x", role="district_admin", display_name="x"))
        await session.flush()
    elif kind == "no-table":
        await session.execute(text("SELECT * FROM no_such_table"))
    elif kind == "locked":
        raise_locked()
    return {}


def raise_locked() -> None:
    raise OperationalError("UPDATE x", {}, sqlite3.OperationalError("database is locked"))


@pytest.fixture
async def with_test_route(settings: Settings, world: Any) -> AsyncIterator[AsyncTestClient[Litestar]]:
    app = create_app(settings)
    app.register(raising)
    async with AsyncTestClient(app=app, raise_server_exceptions=False) as client:
        yield client


async def test_what_a_request_answers_for_each(with_test_route: AsyncTestClient[Litestar]) -> None:
    client = with_test_route
    assert_problem(await client.get("/test/db/duplicate"), 409)
    assert_problem(await client.get("/test/db/no-table"), 500)
    r = await client.get("/test/db/locked")
    assert assert_problem(r, 503)["detail"] == DATABASE_BUSY and r.headers["retry-after"] == "1"


async def test_an_absent_database_is_a_503_problem_with_retry_after(settings: Settings, tmp_path: Path) -> None:
    app = create_app(replace(settings, database_url=unreachable_url(settings, tmp_path)))
    app.register(raising)
    async with AsyncTestClient(app=app, raise_server_exceptions=False) as client:
        r = await client.get("/test/db/no-table")
        body = assert_problem(r, 503)
        assert body["detail"] == DATABASE_UNAVAILABLE and body["retry_after"] == 5
        assert r.headers["retry-after"] == "5"


async def test_a_read_whose_audit_commit_meets_the_outage_is_refused_as_an_outage(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    """The read's data is not shown either way; the outage says so and asks for the outage's wait."""
    broken = Database(replace(settings, database_url=unreachable_url(settings, tmp_path)))
    writer = AuditWriter(broken.engine)
    try:
        with pytest.raises(AuditUnavailable) as refused:
            await writer.append(audit.rows_for(None, "read", "child", [1], ["name"]))
        assert refused.value.status_code == 503 and refused.value.headers == {"Retry-After": "5"}
        assert refused.value.detail.startswith("数据库暂时无法连接")
    finally:
        await writer.close()
        await broken.dispose()
    # A commit the database refuses (a row it will not take) is not an outage: the usual refusal, retry at once.
    writer = AuditWriter(db.engine)
    bad = audit.rows_for(None, "read", "child", [1], ["name"])
    bad[0]["action"] = None
    with pytest.raises(AuditUnavailable) as refused:
        await writer.append(bad)
    assert refused.value.headers == {"Retry-After": "1"} and refused.value.detail.startswith("审计记录未能写入")
    await writer.close()


def test_an_outage_inside_an_exception_group_is_an_outage() -> None:
    """Work done concurrently (a task group) fails with a group: the outage in it still answers 503."""
    locked = OperationalError("SELECT 1", {}, sqlite3.OperationalError("unable to open database file"))
    assert database_unavailable(ExceptionGroup("concurrent work", [ValueError("x"), locked]))
    assert not database_unavailable(ExceptionGroup("concurrent work", [ValueError("x")]))
