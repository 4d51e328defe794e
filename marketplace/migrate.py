"""Alembic, driven from code so the CLI and the tests migrate the same way.

``upgrade`` holds a lock for the whole run, so two ``marketplace migrate`` started together (two deploy jobs, a
container starting twice) never run a migration twice: on PostgreSQL a session advisory lock
(:data:`ADVISORY_LOCK_KEY`, taken on a connection of its own and released when the run ends or its process dies),
on SQLite an exclusive ``flock`` on ``<database file>.migrate-lock`` beside the file. The second waits for the first,
then finds nothing left to do.

``migration_status`` (and its synchronous core ``heads_of``) tells where a database stands against the code: the
revisions it is at and the heads the code has. ``marketplace migrate --check`` and ``GET /health`` read it.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.pool import NullPool

from marketplace.settings import Settings

if TYPE_CHECKING:
    from marketplace.db import Database

log = logging.getLogger("marketplace.migrate")
# Alembic announces each of its plugins at INFO whenever it loads the scripts: noise in every command's output.
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

MIGRATIONS = Path(__file__).parent / "migrations"
# pg_advisory_lock's key for "a migration is running" (any fixed 64-bit number; this one is "mp-migr" in ASCII).
ADVISORY_LOCK_KEY: Final = 0x6D702D6D696772


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", settings.sync_database_url.replace("%", "%%"))
    # A migration that encrypts existing values (0022) uses these settings' field key ring.
    config.attributes["settings"] = settings
    return config


def ensure_sqlite_dir(settings: Settings) -> None:
    if settings.is_sqlite:
        path = _sqlite_path(settings)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)


def _sqlite_path(settings: Settings) -> Path | None:
    path = settings.database_url.split("///", 1)[-1].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


@contextlib.contextmanager
def migration_lock(settings: Settings, waiting: Callable[[], None] | None = None) -> Iterator[None]:
    """Held while the schema changes: one migration at a time per database, across processes and hosts.
    ``waiting`` is called once when another process holds the lock (then this one waits for it)."""
    if settings.is_sqlite:
        path = _sqlite_path(settings)
        if path is None:
            yield
            return
        lock_file = path.with_name(path.name + ".migrate-lock")
        with lock_file.open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if waiting is not None:
                    waiting()
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    engine = create_engine(settings.sync_database_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT")
            if not connection.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY}):
                if waiting is not None:
                    waiting()
                connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY})
    finally:
        engine.dispose()


def upgrade(
    settings: Settings, revision: str = "heads", waiting: Callable[[], None] | None = None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Bring the schema to ``revision`` (every head), under :func:`migration_lock`; the revisions the database was
    at before and is at after (equal when another run had already done the work)."""
    ensure_sqlite_dir(settings)
    with migration_lock(settings, waiting):
        before = status(settings)[0]
        command.upgrade(alembic_config(settings), revision)
        return before, status(settings)[0]


@lru_cache(maxsize=1)
def code_heads() -> tuple[str, ...]:
    """The head revisions of the migrations shipped with this code (read once per process)."""
    script = ScriptDirectory(str(MIGRATIONS))
    # A head another revision depends on (``depends_on``) is not kept in alembic_version once that one is applied:
    # the heads a database migrated to the end is at are those nothing else needs.
    needed = {
        parent for rev in script.walk_revisions() for parent in (*_names(rev.down_revision), *_names(rev.dependencies))
    }
    return tuple(sorted(h for h in script.get_heads() if h not in needed))


def _names(value: str | Sequence[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def heads_of(connection: Connection) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the revisions the database is at, the code's heads); the first is empty for a database never migrated."""
    current = MigrationContext.configure(connection).get_current_heads()
    return tuple(sorted(current)), code_heads()


async def migration_status(db: Database) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``heads_of`` on the app's database (a short read, as the app's other hot reads)."""
    return await db.read(heads_of)


def status(settings: Settings) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``heads_of`` on a connection of its own (the command line)."""
    engine = create_engine(settings.sync_database_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return heads_of(connection)
    finally:
        engine.dispose()


class UnknownRevision(Exception):
    """The database is at a revision this code does not have (it was migrated by newer code)."""


def pending(settings: Settings, current: tuple[str, ...]) -> list[str]:
    """The revisions the code has that a database at ``current`` still lacks (oldest first). Raises
    :class:`UnknownRevision` when ``current`` names a revision the code does not have."""
    script = ScriptDirectory.from_config(alembic_config(settings))
    known = {rev.revision for rev in script.walk_revisions()}
    unknown = sorted(set(current) - known)
    if unknown:
        raise UnknownRevision(", ".join(unknown))
    have = {rev.revision for rev in script.iterate_revisions(current, "base")} if current else set()
    return [r.revision for r in reversed(list(script.walk_revisions())) if r.revision not in have]


def revision(
    settings: Settings, message: str, rev_id: str, head: str = "head", branch_label: str | None = None
) -> None:
    command.revision(
        alembic_config(settings),
        message=message,
        autogenerate=True,
        rev_id=rev_id,
        head=head,
        branch_label=branch_label,
    )
