"""The migrations build exactly the schema the models declare: autogenerate would propose nothing. `marketplace
migrate` runs one at a time per database (a lock), and `--check` / `migration_status` tell where a database stands."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, inspect, select, text

from marketplace import clock, migrate
from marketplace.cases.crypto import field_cipher
from marketplace.cases.models import Child, Visit
from marketplace.cli import main
from marketplace.db import Base, Database
from marketplace.features import load_models
from marketplace.settings import ENVIRONMENT_VARIABLES, Settings, get_settings
from tests.cases.support import add_child
from tests.support.databases import PostgresTemplate, SqliteTemplate
from tests.support.world import World

ROOT = Path(__file__).resolve().parents[1]


def test_migrated_schema_matches_the_models(settings: Settings) -> None:
    load_models()
    engine = create_engine(settings.sync_database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": False})
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == [], diff


async def test_0022_encrypts_the_free_text_already_stored_and_its_downgrade_gives_it_back(
    settings: Settings, db: Database, world: World
) -> None:
    """Rows written before 0022 (clear text: here, a file and a visit decrypted by 0022's downgrade) are encrypted by
    its upgrade, with the blind index of each name; the app reads them back as they were."""
    async with db.session() as session:
        child = await add_child(session, settings, world.communities[0], world.streets[0], name="林小雨")
        child.household_notes = "父亲外出务工后失联"
        session.add(
            Visit(
                child_id=child.id,
                visited_on=clock.today(),
                kind="home",
                findings="家中无存粮",
                next_visit_due=clock.today(),
            )
        )
        child_id = child.id
    await db.dispose()
    config = migrate.alembic_config(settings)

    def stored() -> tuple[str, str, str, str | None]:
        engine = create_engine(settings.sync_database_url)
        try:
            with engine.connect() as c:
                name, notes = c.execute(
                    text("SELECT name, household_notes FROM children WHERE id = :i"), {"i": child_id}
                ).one()
                (findings,) = c.execute(text("SELECT findings FROM visits WHERE child_id = :i"), {"i": child_id}).one()
                columns = {col["name"] for col in inspect(c).get_columns("children")}
                hmac = c.execute(text("SELECT name_hmac FROM children")).scalar() if "name_hmac" in columns else None
                return name, notes, findings, hmac
        finally:
            engine.dispose()

    sealed = stored()
    assert all(v.startswith("v2:") for v in sealed[:3])
    command.downgrade(config, "0022@-1")
    assert stored() == ("林小雨", "父亲外出务工后失联", "家中无存粮", None)
    command.upgrade(config, "heads")
    name, notes, findings, hmac = stored()
    assert all(v.startswith("v2:") for v in (name, notes, findings)) and "林小雨" not in name
    cipher = field_cipher(settings)
    assert hmac == cipher.name_hash("林小雨")
    again = Database(settings)
    try:
        async with again.session(write=False) as session:
            read = await session.get(Child, child_id)
            assert read is not None and (read.name, read.household_notes) == ("林小雨", "父亲外出务工后失联")
            assert (await session.scalars(select(Visit.findings))).all() == ["家中无存粮"]
    finally:
        await again.dispose()


def cli(args: list[str], settings: Settings) -> Result:
    """``marketplace ARGS`` on ``settings``' database, as a new process would read its settings."""
    env = {
        "MARKETPLACE_DATABASE_URL": settings.database_url,
        "MARKETPLACE_DATA_DIR": settings.data_dir,
        "MARKETPLACE_FIELD_KEY": settings.field_key,
        "REDIS_URL": "",
    }
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(main, args, env=env)
    finally:
        get_settings.cache_clear()


async def test_check_tells_current_from_behind_and_the_status_function_agrees(settings: Settings, db: Database) -> None:
    current, heads = await migrate.migration_status(db)
    assert current == heads == migrate.code_heads() and "0024" in heads
    await db.dispose()
    result = await asyncio.to_thread(cli, ["migrate", "--check"], settings)
    assert result.exit_code == 0, result.output
    assert result.output.endswith(": up to date\n")

    command.downgrade(migrate.alembic_config(settings), "0024@-1")
    current, heads = await migrate.migration_status(db)
    assert "0024" not in current and "0024" in heads
    result = await asyncio.to_thread(cli, ["migrate", "--check"], settings)
    assert result.exit_code == 1
    assert "1 migrations to apply (0024): run `marketplace migrate`" in result.output
    await db.dispose()

    result = await asyncio.to_thread(cli, ["migrate"], settings)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("database migrated: ") and "-> " in result.output
    result = await asyncio.to_thread(cli, ["migrate"], settings)
    assert "already up to date, nothing to do" in result.output
    assert await migrate.migration_status(db) == (heads, heads)


def test_check_on_a_database_never_migrated_or_migrated_by_newer_code(tmp_path: Path, settings: Settings) -> None:
    fresh = dataclasses.replace(settings, database_url=f"sqlite:///{tmp_path / 'fresh.db'}")
    result = cli(["migrate", "--check"], fresh)
    assert result.exit_code == 1 and "database at none (never migrated)" in result.output
    engine = create_engine(settings.sync_database_url)
    try:
        with engine.begin() as c:
            c.execute(text("UPDATE alembic_version SET version_num = '0099' WHERE version_num = '0024'"))
    finally:
        engine.dispose()
    result = cli(["migrate", "--check"], settings)
    assert result.exit_code == 1 and "revisions this code does not know" in result.output


@contextlib.contextmanager
def empty_database(db_template: SqliteTemplate | PostgresTemplate, tmp_path: Path) -> Iterator[str]:
    if isinstance(db_template, PostgresTemplate):
        name = f"mp_migrate_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(db_template.admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        try:
            yield f"{db_template.base}/{name}"
        finally:
            with psycopg.connect(db_template.admin_url, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    else:
        yield f"sqlite:///{tmp_path / 'empty.db'}"


def test_two_migrations_started_together_run_once(
    db_template: SqliteTemplate | PostgresTemplate, settings: Settings, tmp_path: Path
) -> None:
    """Two `marketplace migrate` processes on one empty database while a third party holds the migration lock:
    both wait; then one migrates and the other finds nothing to do (without the lock, the second would fail on
    tables that already exist, or run every migration twice)."""
    with empty_database(db_template, tmp_path) as url:
        target = dataclasses.replace(settings, database_url=url)
        clean = {k: v for k, v in os.environ.items() if k not in ENVIRONMENT_VARIABLES}
        env = {
            **clean,
            "PYTHONPATH": str(ROOT),
            "MARKETPLACE_DATABASE_URL": url,
            "MARKETPLACE_DATA_DIR": str(tmp_path / "var"),
            "MARKETPLACE_FIELD_KEY": settings.field_key,
        }
        logs = [tmp_path / f"migrate-{n}.log" for n in (1, 2)]
        procs: list[subprocess.Popen[bytes]] = []
        with migrate.migration_lock(target):
            for log in logs:
                with log.open("wb") as out:
                    procs.append(
                        subprocess.Popen(
                            [sys.executable, "-m", "marketplace.cli", "migrate"],
                            cwd=ROOT,
                            env=env,
                            stdout=out,
                            stderr=subprocess.STDOUT,
                        )
                    )
            deadline = time.monotonic() + 90
            while not all(b"is running on this database: waiting" in log.read_bytes() for log in logs):
                assert time.monotonic() < deadline and all(p.poll() is None for p in procs), [
                    log.read_text() for log in logs
                ]
                time.sleep(0.1)
        codes = [p.wait(180) for p in procs]
        outputs = [log.read_text() for log in logs]
        assert codes == [0, 0], outputs
        done = sorted(
            "migrated" if "database migrated: empty -> " in out else "nothing" if "nothing to do" in out else out
            for out in outputs
        )
        assert done == ["migrated", "nothing"], outputs
        assert migrate.status(target) == (migrate.code_heads(), migrate.code_heads())
        assert "Traceback" not in "".join(outputs)


def test_a_database_that_cannot_be_reached_is_one_line_not_a_traceback(settings: Settings) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    down = dataclasses.replace(settings, database_url=f"postgresql://mp:pw@127.0.0.1:{port}/mp")
    for args in (["migrate", "--check"], ["migrate"]):
        result = cli(args, down)
        assert result.exit_code == 2, result.output
        last = result.output.strip().splitlines()[-1]
        assert last.startswith("MARKETPLACE_DATABASE_URL: the database cannot be used: ") and "refused" in last
        assert "Traceback" not in result.output
