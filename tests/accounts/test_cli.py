"""`marketplace users …`: the command line acts as the system (audited as cli) and prints codes once."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from marketplace.accounts.models import Handover
from marketplace.auth import codes
from marketplace.auth.models import User
from marketplace.cli import main
from marketplace.db import Database
from marketplace.settings import Settings, get_settings
from tests.accounts.support import audit_actions
from tests.support.world import World

CODE = re.compile(r"^  ([A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4})$", re.M)


@pytest.fixture
def cli_env(settings: Settings, tmp_path: Path) -> Iterator[dict[str, str]]:
    yield {
        "MARKETPLACE_DATABASE_URL": settings.database_url,
        "MARKETPLACE_DATA_DIR": str(tmp_path),
        "MARKETPLACE_SEARCH_PATH": settings.search_path,
        "MARKETPLACE_SECRET_KEY": settings.secret_key,
        "MARKETPLACE_FIELD_KEY": settings.field_key,
        "REDIS_URL": "",
    }
    get_settings.cache_clear()


def run(args: list[str], env: dict[str, str]) -> Result:
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(main, ["users", *args], env=env)
    finally:
        get_settings.cache_clear()


async def user(db: Database, username: str) -> User:
    async with db.session(write=False) as session:
        found = await session.scalar(select(User).where(User.username == username))
        assert found is not None
        return found


async def test_create_prints_a_working_code_once(world: World, db: Database, cli_env: dict[str, str]) -> None:
    result = await asyncio.to_thread(
        run,
        [
            "create",
            "li.si",
            "--name",
            "李四",
            "--phone",
            "13712345678",
            "--role",
            "child_director",
            "--community-id",
            str(world.communities[2]),
        ],
        cli_env,
    )
    assert result.exit_code == 0, result.output
    found = CODE.findall(result.output)
    assert len(found) == 1
    created = await user(db, "li.si")
    assert created.street_id == world.streets[1] and created.must_change_password and created.created_by is None
    assert codes.check_code(created, found[0])
    assert ("user.create", "user", created.id, "cli") in await audit_actions(db)


async def test_refusals_exit_non_zero(world: World, db: Database, cli_env: dict[str, str]) -> None:
    dup = await asyncio.to_thread(
        run, ["create", "director", "--name", "x", "--phone", "13712345678", "--role", "auditor"], cli_env
    )
    assert dup.exit_code == 1 and "username taken" in dup.output
    bad = await asyncio.to_thread(run, ["create", "x y", "--name", "x", "--phone", "1", "--role", "auditor"], cli_env)
    assert bad.exit_code == 2
    scope = await asyncio.to_thread(
        run, ["create", "new.dir", "--name", "x", "--phone", "13712345678", "--role", "child_director"], cli_env
    )
    assert scope.exit_code == 1 and "community_id" in scope.output
    missing = await asyncio.to_thread(run, ["disable", "nobody"], cli_env)
    assert missing.exit_code == 1 and "not found" in missing.output


async def test_list_disable_reset_and_handover(world: World, db: Database, cli_env: dict[str, str]) -> None:
    listed = await asyncio.to_thread(run, ["list", "--role", "child_director"], cli_env)
    assert listed.exit_code == 0, listed.output
    assert [line.split("\t")[1] for line in listed.output.splitlines() if "\t" in line] == [
        "director",
        "director2",
        "director3",
    ]

    disabled = await asyncio.to_thread(run, ["disable", "fund"], cli_env)
    assert disabled.exit_code == 0 and not (await user(db, "fund")).is_active
    inactive = await asyncio.to_thread(run, ["list", "--disabled"], cli_env)
    assert [line.split("\t")[1] for line in inactive.output.splitlines() if "\t" in line] == ["fund"]

    before = (await user(db, "procurement")).token_version
    reset = await asyncio.to_thread(run, ["reset-password", "procurement"], cli_env)
    assert reset.exit_code == 0, reset.output
    after = await user(db, "procurement")
    assert after.token_version == before + 1 and codes.check_code(after, CODE.findall(reset.output)[0])

    async with db.session() as session:
        session.add(User(username="dir.cli", display_name="新主任", password_hash="!", role="child_director"))
    handed = await asyncio.to_thread(run, ["handover", "director", "dir.cli"], cli_env)
    assert handed.exit_code == 0, handed.output
    assert not (await user(db, "director")).is_active
    assert (await user(db, "dir.cli")).community_id == world.communities[0]
    async with db.session(write=False) as session:
        row = await session.scalar(select(Handover))
        assert row is not None and row.performed_by is None and "notifications" in row.moved  # the event ran
    actions = [(a, u) for a, _, _, u in await audit_actions(db)]
    for action in ("user.disable", "user.reset_password", "handover"):
        assert (action, "cli") in actions
