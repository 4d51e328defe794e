"""``Database.read``: a read-only function of a synchronous connection, in one transaction, on either database."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, func, insert, select, text
from sqlalchemy.exc import DBAPIError

from marketplace.geography.models import Street

streets = Street.__table__


def _count(conn: Connection, prefix: str) -> int:
    return int(conn.scalar(select(func.count()).where(streets.c.code.like(f"{prefix}%"))) or 0)


async def test_a_read_sees_what_was_committed_and_not_what_is_pending(db) -> None:
    async with db.session() as s:
        await s.execute(insert(Street), [{"code": "rd-1", "name": "读一"}, {"code": "rd-2", "name": "读二"}])
    assert await db.read(_count, "rd-") == 2
    async with db.session() as s:
        await s.execute(insert(Street), [{"code": "rd-3", "name": "读三"}])
        await s.flush()
        # Another transaction's uncommitted row is not read (and the reader does not wait for the writer).
        assert await db.read(_count, "rd-") == 2
    assert await db.read(_count, "rd-") == 3


def _write(conn: Connection) -> None:
    conn.execute(text("INSERT INTO streets (code, name) VALUES ('rd-x', 'x')"))


async def test_the_reader_cannot_write_on_sqlite(db, settings) -> None:
    if not settings.is_sqlite:
        pytest.skip("the query-only connection is SQLite's")
    with pytest.raises(DBAPIError, match=r"readonly|read-only|attempt to write"):
        await db.read(_write)
    assert await db.read(_count, "rd-x") == 0


def _fail(conn: Connection) -> None:
    conn.scalar(select(1))
    raise LookupError("the caller's own error")


async def test_an_error_in_the_read_reaches_the_caller_and_releases_the_connection(db) -> None:
    for _ in range(20):  # more than the pool holds: every failed read gave its connection back
        with pytest.raises(LookupError):
            await db.read(_fail)
    assert await db.read(_count, "") >= 0
