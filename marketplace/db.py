"""Engines, sessions and the declarative base shared by every feature."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from sqlalchemy import DateTime, Engine, Integer, MetaData, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from marketplace import clock
from marketplace.settings import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    """The current instant from the one clock (``marketplace.clock``)."""
    return clock.now()


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC timestamps on both SQLite (which drops the zone) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored; use timezone-aware UTC")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime()}


class IdMixin:
    id: Mapped[int] = mapped_column(Integer, primary_key=True)


class TimestampMixin:
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False)


T = TypeVar("T")


def _sqlite_pragmas(
    engine: AsyncEngine | Engine, settings: Settings, *, immediate: bool, query_only: bool = False
) -> None:
    sync_engine = engine.sync_engine if isinstance(engine, AsyncEngine) else engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so BEGIN is ours to issue.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        if query_only:
            cursor.execute("PRAGMA query_only=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(settings.sqlite_busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the write lock up front: no deadlock-prone lock upgrades mid-transaction.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


READ_THREADS = 8


def _read_on(engine: Engine, fn: Callable[..., T], *args: Any) -> T:
    with engine.connect() as conn, conn.begin():
        return fn(conn, *args)


class Database:
    """The app's engines: a writer, and (on SQLite) a reader whose transactions don't take the write lock.

    ``read(fn, ...)`` runs a read-only function of a synchronous SQLAlchemy ``Connection`` in one transaction (one
    snapshot): the hot read paths (the service pool, the principal behind a token, the children list) are written
    that way, in Core. On a SQLite file it runs on a plain ``sqlite3`` connection on the calling thread, without a
    hop to a driver thread: those reads are short indexed queries (tens to hundreds of microseconds, measured in
    ``make bench``), shorter than a thread hand-off, and WAL readers never wait for the writer. On PostgreSQL it runs
    whole in a worker thread on a synchronous psycopg connection (one hand-off per read, where the async driver costs
    one per statement), so the event loop never waits on the network; an in-memory SQLite database reads through the
    async engine's connection (``run_sync``).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        url = settings.async_database_url
        self.sync_read_engine: Engine | None = None
        # PostgreSQL's synchronous reader, used from worker threads (at most READ_THREADS at a time).
        self.threaded_read_engine: Engine | None = None
        # A SQLite file's synchronous writer, for work done whole in a worker thread (the audit writer's commits).
        self.sync_write_engine: Engine | None = None
        if settings.is_sqlite:
            self.engine = create_async_engine(url, poolclass=NullPool if ":memory:" in url else None)
            _sqlite_pragmas(self.engine, settings, immediate=True)
            self.read_engine = create_async_engine(url)
            _sqlite_pragmas(self.read_engine, settings, immediate=False)
            if ":memory:" not in url:
                self.sync_read_engine = create_engine(settings.sync_database_url, pool_size=4, max_overflow=8)
                _sqlite_pragmas(self.sync_read_engine, settings, immediate=False, query_only=True)
                self.sync_write_engine = create_engine(settings.sync_database_url, pool_size=1, max_overflow=4)
                _sqlite_pragmas(self.sync_write_engine, settings, immediate=True)
        else:
            self.engine = create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
            self.read_engine = self.engine
            self.threaded_read_engine = create_engine(
                settings.sync_database_url, pool_size=READ_THREADS, max_overflow=0, pool_pre_ping=True
            )
        # Encrypted columns (``cases.crypto.EncryptedText``) find this database's field key ring on the dialect.
        for engine in (
            self.engine.sync_engine,
            self.read_engine.sync_engine,
            self.sync_read_engine,
            self.threaded_read_engine,
            self.sync_write_engine,
        ):
            if engine is not None:
                engine.dialect.marketplace_settings = settings  # type: ignore[attr-defined]
        self._read_threads = anyio.CapacityLimiter(READ_THREADS)
        # Every session carries where the deployment keeps its files (features that signal other processes use it).
        info = {"data_dir": settings.data_dir}
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False, info=info)
        self.read_sessionmaker = async_sessionmaker(
            self.read_engine, expire_on_commit=False, autoflush=False, info=info
        )

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(connection, *args)`` in one read-only transaction (see the class docstring for where it runs)."""
        if self.sync_read_engine is not None:
            return _read_on(self.sync_read_engine, fn, *args)
        if self.threaded_read_engine is not None:
            return await anyio.to_thread.run_sync(
                partial(_read_on, self.threaded_read_engine, fn, *args), limiter=self._read_threads
            )
        async with self.read_engine.connect() as aconn:
            return await aconn.run_sync(fn, *args)

    @asynccontextmanager
    async def session(self, *, write: bool = True) -> AsyncIterator[AsyncSession]:
        """A unit of work: committed when the block ends normally, rolled back otherwise."""
        maker = self.sessionmaker if write else self.read_sessionmaker
        async with maker() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def dispose(self) -> None:
        for engine in (self.sync_read_engine, self.sync_write_engine, self.threaded_read_engine):
            if engine is not None:
                engine.dispose()
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()
