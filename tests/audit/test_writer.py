"""The group-commit audit writer: concurrent reads share one write transaction, a failed commit fails every read
that waited on it, and closing commits what is queued."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import event, func, select, text

from marketplace.audit import service as audit
from marketplace.audit.models import AuditEntry
from marketplace.audit.writer import AuditUnavailable, AuditWriter
from marketplace.db import Database
from tests.cases.support import Cases
from tests.conftest import assert_problem


@pytest.fixture(params=["async", "thread"])
def commits_on(request: pytest.FixtureRequest, db: Database) -> str:
    """Both ways the writer commits: through the async engine, or whole in a worker thread (a SQLite file's)."""
    if request.param == "thread" and db.sync_write_engine is None:
        pytest.skip("commits in a worker thread are a SQLite file's")
    return str(request.param)


def writer_for(db: Database, commits_on: str) -> AuditWriter:
    return AuditWriter(db.engine, db.sync_write_engine if commits_on == "thread" else None)


def rows(action: str, *ids: int) -> list[dict[str, Any]]:
    return audit.rows_for(None, action, "child", ids, ["name"])


async def audited(db: Database, action: str | None = None) -> list[tuple[str, int | None]]:
    stmt = select(AuditEntry.action, AuditEntry.entity_id).order_by(AuditEntry.id)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    async with db.session(write=False) as s:
        return [(a, i) for a, i in (await s.execute(stmt)).all()]


class Inserts:
    """Counts the INSERT statements the writer's engine sends."""

    def __init__(self, db: Database) -> None:
        self.count = 0
        for engine in (db.engine.sync_engine, db.sync_write_engine):
            if engine is not None:
                event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO AUDIT_LOG"):
            self.count += 1


async def refuse_audit_inserts(db: Database) -> None:
    """A real failure of the audit commit: the database refuses every INSERT into audit_log."""
    async with db.session() as s:
        if db.settings.is_sqlite:
            await s.execute(
                text(
                    "CREATE TRIGGER test_refuse_audit BEFORE INSERT ON audit_log "
                    "BEGIN SELECT RAISE(ABORT, 'audit refused'); END"
                )
            )
        else:
            await s.execute(
                text(
                    "CREATE FUNCTION test_refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$ "
                    "BEGIN RAISE EXCEPTION 'audit refused'; END $$"
                )
            )
            await s.execute(
                text(
                    "CREATE TRIGGER test_refuse_audit BEFORE INSERT ON audit_log "
                    "FOR EACH ROW EXECUTE FUNCTION test_refuse_audit()"
                )
            )


async def test_concurrent_appends_share_one_transaction_and_one_insert(db: Database, commits_on: str) -> None:
    writer = writer_for(db, commits_on)
    inserts = Inserts(db)
    # The first append finds the writer idle and commits its row at once; the 99 that arrive while that commit runs
    # are queued and go out together in the next one.
    await asyncio.gather(*(writer.append(rows("list", i, i + 1000)) for i in range(1, 101)))
    assert writer.commits == 2
    assert inserts.count == 2
    got = await audited(db, "list")
    assert sorted(i for _, i in got if i is not None) == sorted([*range(1, 101), *range(1001, 1101)])
    # Sequential appends (no concurrency) cost one commit each: nothing waits for a batch to fill.
    await writer.append(rows("list", 7))
    assert writer.commits == 3
    await writer.close()


async def test_a_failed_commit_fails_every_waiter_and_keeps_none_of_its_rows(db: Database, commits_on: str) -> None:
    writer = writer_for(db, commits_on)
    await refuse_audit_inserts(db)
    results = await asyncio.gather(*(writer.append(rows("read", i)) for i in range(1, 21)), return_exceptions=True)
    assert len(results) == 20
    assert all(isinstance(r, AuditUnavailable) and r.status_code == 503 for r in results), results
    assert await audited(db) == []
    assert writer.commits == 0
    await writer.close()


async def test_one_bad_row_fails_its_whole_batch_not_the_next(db: Database, commits_on: str) -> None:
    writer = writer_for(db, commits_on)
    bad = rows("read", 99)
    bad[0]["action"] = None  # NOT NULL: the database refuses the batch this row is in
    first = asyncio.ensure_future(writer.append(rows("read", 1)))
    await asyncio.sleep(0)  # the first append holds the writer: the next three are queued into one batch
    batch = [asyncio.ensure_future(writer.append(r)) for r in (rows("read", 2), bad, rows("read", 3))]
    await first
    outcome = await asyncio.gather(*batch, return_exceptions=True)
    assert all(isinstance(r, AuditUnavailable) for r in outcome), outcome
    await writer.append(rows("read", 4))
    assert await audited(db, "read") == [("read", 1), ("read", 4)]
    await writer.close()


async def test_close_commits_queued_rows_even_of_a_cancelled_waiter_then_refuses(db: Database, commits_on: str) -> None:
    writer = writer_for(db, commits_on)
    first = asyncio.ensure_future(writer.append(rows("read", 1)))
    await asyncio.sleep(0)
    gone = asyncio.ensure_future(writer.append(rows("read", 2)))  # queued behind the first commit
    await asyncio.sleep(0)
    gone.cancel()  # its request went away (client disconnected): its rows stay queued
    await first
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert await audited(db) == [("read", 1)]
    await writer.close()
    assert writer.closed
    assert await audited(db) == [("read", 1), ("read", 2)]
    with pytest.raises(AuditUnavailable):
        await writer.append(rows("read", 3))
    assert await audited(db) == [("read", 1), ("read", 2)]


async def test_close_waits_for_appends_in_flight(db: Database, commits_on: str) -> None:
    writer = writer_for(db, commits_on)
    pending = [asyncio.ensure_future(writer.append(rows("list", i))) for i in range(1, 31)]
    await asyncio.sleep(0)
    await writer.close()
    await asyncio.gather(*pending)
    assert sorted(i for _, i in await audited(db, "list") if i is not None) == list(range(1, 31))


async def test_outside_a_request_read_audits_go_in_the_session_transaction(db: Database) -> None:
    """The command line, jobs and service code without the app's writer: the rows are the session's own."""
    async with db.session() as s:
        await audit.record_read(s, None, "read", "child", [5], ["name"])
        assert await s.scalar(select(func.count()).select_from(AuditEntry)) == 1
        await s.rollback()
    assert await audited(db) == []


async def test_api_reads_are_audited_and_refused_with_503_when_the_audit_cannot_commit(
    client, auth, cases: Cases, db: Database
) -> None:
    h = await auth("director")
    child = cases.children["A"]
    r = await client.get("/api/v1/children?limit=20", headers=h)
    assert r.status_code == 200
    listed = [c["id"] for c in r.json()["items"]]
    assert listed
    r = await client.get(f"/api/v1/children/{child}", headers=h)
    assert r.status_code == 200
    assert await audited(db, "list") == [("list", i) for i in listed]
    assert await audited(db, "read") == [("read", child)]

    await refuse_audit_inserts(db)
    for url in ("/api/v1/children?limit=20", f"/api/v1/children/{child}", "/api/v1/referrals"):
        r = await client.get(url, headers=h)
        body = assert_problem(r, 503)
        assert "审计" in body["detail"] and r.headers["retry-after"] == "1"
        assert "items" not in body and "name" not in body  # no child's data without its audit row
