"""Group commit of read audits: concurrent readers' audit rows share one short write transaction.

A request that only reads children's data runs in a read transaction (no write lock on SQLite) and collects its
audit rows in its session (``collect``). When its handler has finished and its read transaction has ended, the
request awaits :meth:`AuditWriter.append` (``commit_collected``), which returns only once those rows are committed;
the response goes out after that, so no child's data is shown without its audit row. Requests that append while a
commit is under way queue up, and the next commit takes all of them in one transaction and one INSERT: N concurrent
readers cost one write transaction, not N.

There is no background task: the appender that holds the lock commits for everyone queued, and each waiter's
future is resolved (committed) or failed (the commit's error) before its ``append`` returns. ``close`` (the app's
lifespan) commits what is still queued, then refuses new rows; a row is either committed or its request fails.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
from collections.abc import Sequence
from typing import Any, Final

import anyio.to_thread
from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from marketplace.audit import chain
from marketplace.audit.models import AUDIT_CHAIN
from marketplace.errors import OUTAGE_RETRY_AFTER, DomainError, database_unavailable

log = logging.getLogger("marketplace.audit")

Row = dict[str, Any]

# Keys in ``AsyncSession.info``: the writer on a request's read session, and the rows that session's reads produced.
WRITER_KEY: Final = "audit_writer"
COLLECTED_KEY: Final = "audit_rows"

# Rows per INSERT statement (SQLite allows 32,766 bound parameters; a row binds 9). A larger batch is still one
# transaction, executed as several statements.
CHUNK_ROWS: Final = 2000


class AuditUnavailable(DomainError):
    """The audit rows of a read could not be committed: the read is refused, its data not shown."""

    status_code = 503

    def __init__(self, detail: str = "", *, retry_after: int = 1) -> None:
        super().__init__(
            detail
            or "审计记录未能写入，本次查询结果未显示，请稍后重试 (the read's audit rows could not be committed; "
            "nothing was shown, retry)",
            headers={"Retry-After": str(retry_after)},
        )

    @classmethod
    def after(cls, exc: BaseException) -> AuditUnavailable:
        """The refusal of a read whose audit commit failed with ``exc``: a database out of reach says so, and asks
        the client to wait as long as any request meeting the outage is asked to."""
        if database_unavailable(exc):
            return cls(
                "数据库暂时无法连接，审计记录未能写入，本次查询结果未显示，请稍后重试 (database unavailable: the read's "
                "audit rows could not be committed; nothing was shown, retry later)",
                retry_after=OUTAGE_RETRY_AFTER,
            )
        return cls()


class AuditWriter:
    """One per process (per app): commits the read audits of concurrent requests together."""

    def __init__(self, engine: AsyncEngine, sync_engine: Engine | None = None) -> None:
        """``sync_engine`` (a SQLite file's): commits run on it in one worker thread, one hand-off per batch instead
        of one per statement, serialised between the serving processes by :class:`ProcessLock`."""
        self._engine = engine
        self._sync_engine = sync_engine
        self._between_processes = ProcessLock.beside(sync_engine)
        self._queue: list[tuple[list[Row], asyncio.Future[None]]] = []
        # Settled when the commit under way ends; None while no commit runs.
        self._flushing: asyncio.Future[None] | None = None
        self._closed = False
        self.commits = 0  # write transactions committed (for tests and diagnostics)

    @property
    def closed(self) -> bool:
        return self._closed

    async def append(self, rows: Sequence[Row]) -> None:
        """Return once ``rows`` are committed; raise :class:`AuditUnavailable` if they could not be."""
        if not rows:
            return
        if self._closed:
            raise AuditUnavailable("服务正在停止，请重试 (the server is shutting down; retry)")
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((list(rows), done))
        try:
            while not done.done():
                if self._flushing is None:
                    # The writer is idle: this request commits everything queued, its own rows included.
                    await self._flush()
                else:
                    # A commit is under way: wait for it to end (it may have taken these rows) and look again.
                    await asyncio.wait((done, self._flushing), return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            if done.done() and not done.cancelled():
                done.exception()  # retrieved: this request is failing anyway
            raise
        # A settled future: its result is None, or the commit's error (raised here).
        done.result()

    async def close(self) -> None:
        """Commit what is still queued (or fail its waiters) and refuse new rows. Called by the app's lifespan."""
        self._closed = True
        while self._flushing is not None:
            await asyncio.wait((self._flushing,))
        if self._queue:
            await self._flush()
        self._between_processes.close()

    async def _flush(self) -> None:
        self._flushing = asyncio.get_running_loop().create_future()
        try:
            await self._commit_queued()
        finally:
            ended, self._flushing = self._flushing, None
            ended.set_result(None)

    @staticmethod
    def _fail(batch: list[tuple[list[Row], asyncio.Future[None]]], exc: BaseException) -> None:
        for _, done in batch:
            if not done.done():
                failure = AuditUnavailable.after(exc)
                failure.__cause__ = exc
                done.set_exception(failure)

    async def _commit_queued(self) -> None:
        batch, self._queue = self._queue, []
        rows = [row for part, _ in batch for row in part]
        try:
            if self._sync_engine is not None:
                # Not abandoned on cancellation: the thread's transaction ends (committed or not) before this returns.
                await anyio.to_thread.run_sync(self._commit_in_thread, self._sync_engine, rows)
            else:
                async with self._engine.begin() as conn:
                    await conn.run_sync(chain.append, AUDIT_CHAIN, rows, CHUNK_ROWS)
        except Exception as exc:
            # Nothing of this batch is known to be committed: every waiter's request fails (its own future raises).
            log.exception("audit commit of %d rows for %d requests failed", len(rows), len(batch))
            self._fail(batch, exc)
            return
        except BaseException as exc:
            # The holder was cancelled (its client went away): fail the others rather than leave them waiting.
            self._fail(batch, exc)
            raise
        self.commits += 1
        for _, done in batch:
            if not done.done():
                done.set_result(None)

    def _commit_in_thread(self, engine: Engine, rows: list[Row]) -> None:
        with self._between_processes, engine.begin() as conn:
            chain.append(conn, AUDIT_CHAIN, rows, CHUNK_ROWS)


class ProcessLock:
    """Serialises the audit commits of every serving process on one SQLite file (an advisory ``flock`` on a file
    beside the database, taken in the committing thread). Without it, two processes' group commits meet at SQLite's
    write lock, and the one that finds it taken sleeps in SQLite's busy handler in growing steps (1, 2, 5, 10 …
    100 ms) while its whole batch of readers waits: with two workers that made the children list's p99 1.2 s (220 ms
    with the lock). A process waiting here is woken the moment the lock is released."""

    def __init__(self, path: str | None) -> None:
        self._path = path
        self._fd: int | None = None  # opened at the first commit: making the app touches no file

    @classmethod
    def beside(cls, engine: Engine | None) -> ProcessLock:
        database = engine.url.database if engine is not None and engine.dialect.name == "sqlite" else None
        return cls(f"{database}-audit.lock" if database and database != ":memory:" else None)

    def __enter__(self) -> None:
        if self._path is None:
            return
        if self._fd is None:
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *_exc: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def attach(session: AsyncSession, writer: AuditWriter) -> None:
    """Mark ``session`` as a read session whose read audits go through ``writer``."""
    session.info[WRITER_KEY] = writer
    session.info[COLLECTED_KEY] = []


def collector(session: AsyncSession) -> list[Row] | None:
    """The list a read session collects its audit rows in; None when the session writes them itself."""
    if isinstance(session.info.get(WRITER_KEY), AuditWriter):
        rows: list[Row] = session.info[COLLECTED_KEY]
        return rows
    return None


async def commit_collected(session: AsyncSession) -> None:
    """After the read transaction: commit the rows the request collected (awaits the group commit)."""
    writer = session.info.get(WRITER_KEY)
    rows: list[Row] = session.info.get(COLLECTED_KEY) or []
    if not rows or not isinstance(writer, AuditWriter):
        return
    session.info[COLLECTED_KEY] = []
    await writer.append(rows)
