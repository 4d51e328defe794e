"""The command line: demo-users prints the README's demo logins table, openapi prints the committed schema."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text

from marketplace.audit import service as audit
from marketplace.cli import main, openapi_document
from marketplace.demo import futian_data
from marketplace.demo.loader import load_demo
from marketplace.settings import Settings, get_settings
from tests.audit.tamper import owner

ROOT = Path(__file__).resolve().parents[1]
HEADER = "| role | scope | username |"


@pytest.fixture
def cli_env(settings: Settings, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment a command sees: the test's database, files under tmp_path, no broker."""
    yield {
        "MARKETPLACE_DATABASE_URL": settings.database_url,
        "MARKETPLACE_DATA_DIR": str(tmp_path),
        "MARKETPLACE_SEARCH_PATH": settings.search_path,
        "REDIS_URL": "",
    }
    get_settings.cache_clear()


def run(args: list[str], env: dict[str, str]) -> Result:
    """Run a command as `marketplace ARGS` would, reading its settings from ``env``."""
    get_settings.cache_clear()  # the command reads the environment afresh, as a new process does
    try:
        return CliRunner().invoke(main, args, env=env)
    finally:
        get_settings.cache_clear()


def readme_demo_logins() -> list[str]:
    """The lines of README.md's demo logins table, header included."""
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    start = lines.index(HEADER)
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return lines[start:end]


def test_demo_users_prints_the_readme_table(settings: Settings, cli_env: dict[str, str]) -> None:
    asyncio.run(load_demo(settings))
    result = run(["demo-users"], cli_env)
    assert result.exit_code == 0, result.output
    printed = result.output.splitlines()
    assert printed[0] == HEADER
    assert len(printed) == 2 + len(futian_data.USERS)  # every demo user, once
    assert printed == readme_demo_logins(), "paste the output of `marketplace demo-users` into README.md"
    rows = {line.rsplit("`", 2)[1]: line for line in printed[2:]}
    assert rows["supervisor"] == "| child_supervisor 儿童督导员 | 福田街道 | `supervisor` |"
    assert rows["director"] == "| child_director 儿童主任 | 福山社区, 福田街道 | `director` |"
    assert rows["sup-yuanling"] == "| child_supervisor 儿童督导员 | 园岭街道 | `sup-yuanling` |"
    assert rows["auditor"] == "| auditor 审计/纪检 | the district, read only | `auditor` |"


def test_demo_users_on_a_database_without_the_demo_says_so(cli_env: dict[str, str]) -> None:
    result = run(["demo-users"], cli_env)
    assert result.exit_code == 1
    assert "marketplace demo" in result.output


def test_openapi_prints_the_schema_the_app_generates(settings: Settings, cli_env: dict[str, str]) -> None:
    result = run(["openapi"], cli_env)
    assert result.exit_code == 0, result.output
    assert result.output == openapi_document(settings)
    assert '"/api/v1/auth/login"' in result.output


def test_worker_refuses_without_a_broker(cli_env: dict[str, str]) -> None:
    result = run(["worker"], cli_env)
    assert result.exit_code == 2
    assert "REDIS_URL is not set" in result.output


async def test_verify_passes_on_intact_chains_and_fails_naming_the_first_broken_row(
    settings: Settings, cli_env: dict[str, str], db
) -> None:
    async with db.session() as s:
        await audit.record_many(s, None, "read", "child", [1, 2, 3], ["name"])
    result = await asyncio.to_thread(run, ["verify"], cli_env)
    assert result.exit_code == 0, result.output
    assert "audit_log: intact, 3 rows checked" in result.output
    async with owner(db) as s:
        await s.execute(text("UPDATE audit_log SET entity_id = 9 WHERE id = 2"))
    result = await asyncio.to_thread(run, ["verify"], cli_env)
    assert result.exit_code == 1
    assert "audit_log #2" in result.output and "CHAIN BROKEN" in result.output
    result = await asyncio.to_thread(run, ["verify", "--json"], cli_env)
    assert result.exit_code == 1
    assert json.loads(result.output.splitlines()[0])["broken"]["id"] == 2
