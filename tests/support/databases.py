"""One migrated template per test session; every test gets its own copy (real commits, no leaks)."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import psycopg

from marketplace import migrate
from marketplace.settings import Settings

_counter = itertools.count()


def test_settings(database_url: str, tmp: Path, **overrides: object) -> Settings:
    values: dict[str, object] = dict(
        database_url=database_url,
        secret_key="test-secret-key-0123456789-0123456789-0123456789",
        field_key="dGVzdC1maWVsZC1rZXktMDEyMzQ1Njc4OWFiY2RlZjA=",
        redis_url=None,
        task_always_eager=True,
        meili_url=None,
        meili_key=None,
        search_path=str(tmp / "search.db"),
        data_dir=str(tmp),
        stripe_api_key="sk_test_12345",
        stripe_webhook_secret="whsec_test_secret",
        stripe_api_base=None,
        login_rate_limit_per_minute=1000,
        anonymous_write_limit=1000,
    )
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


class SqliteTemplate:
    kind = "sqlite"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.template = root / "template.db"
        migrate.upgrade(test_settings(f"sqlite:///{self.template}", root))

    def new_database(self, tmp: Path) -> str:
        target = tmp / "test.db"
        shutil.copyfile(self.template, target)
        return f"sqlite:///{target}"


# What a test could change about a database's shape (tables, columns, constraints, triggers, functions, types,
# schemas, the migration version, database-level settings): a database that comes back changed is dropped, not reused.
_SHAPE = """
SELECT md5(string_agg(x, '|' ORDER BY x)) FROM (
    SELECT 'c:' || n.nspname || '.' || c.relname || ':' || c.relkind::text || ':' || coalesce(a.attname, '') || ':'
        || coalesce(a.atttypid::text, '') || ':' || coalesce(a.attnotnull::text, '') AS x
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg_temp%'
        AND n.nspname NOT LIKE 'pg_toast_temp%'
    UNION ALL SELECT 'k:' || conrelid::regclass::text || '.' || conname || ':' || contype::text FROM pg_constraint
        WHERE connamespace NOT IN (SELECT oid FROM pg_namespace WHERE nspname IN ('pg_catalog', 'information_schema'))
    UNION ALL SELECT 't:' || tgrelid::regclass::text || '.' || tgname || ':' || tgenabled::text FROM pg_trigger
        WHERE NOT tgisinternal
    UNION ALL SELECT 'f:' || p.oid::regprocedure::text || ':' || md5(p.prosrc) FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
    UNION ALL SELECT 'y:' || t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
    UNION ALL SELECT 'n:' || nspname FROM pg_namespace
    UNION ALL SELECT 'v:' || version_num FROM alembic_version
    UNION ALL SELECT 's:' || coalesce(setconfig::text, '') FROM pg_db_role_setting
        WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
) shape
"""


class PostgresTemplate:
    """``new_database`` hands out a database equal to the migrated template. Creating one (``CREATE DATABASE ...
    TEMPLATE``) copies the whole catalog, 0.5-1 s of the server's CPU per test; so a database given back with
    ``drop`` is kept and reused by the next ``new_database`` of this worker, reset to the template: its other
    connections ended, every table that has rows emptied (``DELETE``, with the foreign-key and append-only triggers
    off for this session: ``TRUNCATE`` of every table costs half a new database) and the template's rows (the migrations' reference data) and sequence positions put back. A database whose shape no
    longer matches the template's (a test migrated it, or altered a table) is dropped instead."""

    kind = "postgresql"

    def __init__(self, admin_url: str, root: Path) -> None:
        self.admin_url = admin_url
        self.base = admin_url.rsplit("/", 1)[0]
        self._free: list[str] = []
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE mp_template")
        migrate.upgrade(test_settings(f"{self.base}/mp_template", root))
        with psycopg.connect(f"{self.base}/mp_template", autocommit=True) as conn:
            self._shape = conn.execute(_SHAPE).fetchone()[0]  # type: ignore[index]
            tables = [
                f'"{schema}"."{name}"'
                for schema, name in conn.execute(
                    "SELECT schemaname, tablename FROM pg_tables "
                    "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') AND tablename <> 'alembic_version' "
                    "ORDER BY 1, 2"
                )
            ]
            self._nonempty = " UNION ALL ".join(f"SELECT '{t}' WHERE EXISTS (SELECT FROM {t})" for t in tables)
            self._rows: list[tuple[str, bytes]] = []
            for table in tables:
                if conn.execute(f"SELECT EXISTS (SELECT FROM {table})").fetchone()[0]:  # type: ignore[index]
                    data = bytearray()
                    with conn.cursor().copy(f"COPY {table} TO STDOUT (FORMAT binary)") as copy:
                        for chunk in copy:
                            data += chunk
                    self._rows.append((table, bytes(data)))
            positions = []
            for schema, name, last_value in conn.execute(
                "SELECT schemaname, sequencename, last_value FROM pg_sequences ORDER BY 1, 2"
            ):
                sequence = f'"{schema}"."{name}"'
                positions.append(
                    f"ALTER SEQUENCE {sequence} RESTART"
                    if last_value is None
                    else f"SELECT setval('{sequence}', {int(last_value)}, true)"
                )
            self._sequences = "; ".join(positions)

    def new_database(self, tmp: Path) -> str:
        while self._free:
            url = self._free.pop()
            if self._reset(url):
                return url
            self._drop(url)
        name = f"mp_test_{next(_counter)}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute(f"CREATE DATABASE {name} TEMPLATE mp_template")
        return f"{self.base}/{name}"

    def drop(self, url: str) -> None:
        """The test is done with the database: keep it for the next ``new_database``."""
        if url not in self._free:
            self._free.append(url)

    def _reset(self, url: str) -> bool:
        name = url.rsplit("/", 1)[1]
        try:
            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
                    (name,),
                )
            with psycopg.connect(url) as conn:
                conn.execute("SET lock_timeout = '20s'")
                if conn.execute(_SHAPE).fetchone()[0] != self._shape:  # type: ignore[index]
                    return False
                conn.execute("SET session_replication_role = replica")
                written = [row[0] for row in conn.execute(self._nonempty)] if self._nonempty else []
                for table in {*written, *(table for table, _ in self._rows)}:
                    conn.execute(f"DELETE FROM {table}")
                cursor = conn.cursor()
                for table, data in self._rows:
                    with cursor.copy(f"COPY {table} FROM STDIN (FORMAT binary)") as copy:
                        copy.write(data)
                if self._sequences:
                    conn.execute(self._sequences)
                conn.commit()
            return True
        except psycopg.Error:
            return False

    def _drop(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


class DemoTemplate:
    """The Futian demo loaded once per test session (per xdist worker) and handed out as copies: a full load takes
    about 10 s, and a dozen suites read the demo without testing the loader itself.

    The first ``new_settings`` loads the demo (``load_demo``: every feature's demo and the search index) into a
    database of its own beside the migrated template, with its own data directory; each test then gets a copy of
    both: the SQLite file copied, a PostgreSQL database created from it (``CREATE DATABASE ... TEMPLATE``, and given
    back to the migrated template's pool when the test is done). A suite that tests the loader, or loads the demo
    under a clock of its own, still calls ``load_demo`` itself."""

    def __init__(self, template: SqliteTemplate | PostgresTemplate, root: Path) -> None:
        self.template = template
        self.root = root
        self._url: str | None = None

    def _load(self) -> str:
        import asyncio
        import sqlite3
        from concurrent.futures import ThreadPoolExecutor

        from marketplace.demo.loader import load_demo

        data = self.root / "data"
        data.mkdir(parents=True, exist_ok=True)
        if isinstance(self.template, PostgresTemplate):
            with psycopg.connect(self.template.admin_url, autocommit=True) as conn:
                conn.execute("DROP DATABASE IF EXISTS mp_demo")
                conn.execute("CREATE DATABASE mp_demo TEMPLATE mp_template")
            url = f"{self.template.base}/mp_demo"
        else:
            target = self.root / "demo.db"
            shutil.copyfile(self.template.template, target)
            url = f"sqlite:///{target}"
        settings = test_settings(url, data)
        # A thread of its own: the fixture may be set up while an event loop runs.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, load_demo(settings)).result()
        for path in (self.root / "demo.db", data / "search.db"):
            if path.exists():  # fold the write-ahead log in, so a copy of the file alone is whole
                with sqlite3.connect(path) as conn:
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return url

    def new_settings(self, tmp: Path) -> Settings:
        if self._url is None:
            self._url = self._load()
        shutil.copytree(self.root / "data", tmp, dirs_exist_ok=True)
        if isinstance(self.template, PostgresTemplate):
            name = f"mp_demo_{next(_counter)}"
            with psycopg.connect(self.template.admin_url, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name}")
                conn.execute(f"CREATE DATABASE {name} TEMPLATE mp_demo")
            return test_settings(f"{self.template.base}/{name}", tmp)
        target = tmp / "test.db"
        shutil.copyfile(self.root / "demo.db", target)
        return test_settings(f"sqlite:///{target}", tmp)
