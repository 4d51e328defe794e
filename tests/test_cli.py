"""The command line: demo-users prints the README's demo logins table, openapi prints the committed schema; every
command refuses unusable settings in one line each; serve refuses a taken port; job checks its name."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text

from marketplace import keyfiles, tasks
from marketplace.audit import service as audit
from marketplace.cli import describe_result, main, openapi_document, port_problem
from marketplace.demo import futian_data
from marketplace.demo.loader import load_demo
from marketplace.features import load_jobs
from marketplace.settings import ENVIRONMENT_VARIABLES, Settings, get_settings, load_settings
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


def command(args: list[str], env: dict[str, str], **extra: str) -> subprocess.Popen[str]:
    """``marketplace ARGS`` as its own process, in a clean environment plus ``env`` and ``extra``."""
    clean = {k: v for k, v in os.environ.items() if k not in ENVIRONMENT_VARIABLES}
    return subprocess.Popen(
        [sys.executable, "-m", "marketplace.cli", *args],
        cwd=ROOT,
        env={**clean, "PYTHONPATH": str(ROOT), **env, **extra},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def test_every_command_refuses_unusable_settings_with_one_line_each(cli_env: dict[str, str]) -> None:
    bad = {"PORT": "abc", "MARKETPLACE_FIELD_KEY": "swordfish", "MARKETPLACE_TOKEN_TTL": "-1", "REDIS_URL": "redis://x"}
    commands = [["serve"], ["worker"], ["beat"], ["migrate"], ["migrate", "--check"], ["job", "cases.visit_alerts"]]
    procs = [command(args, cli_env, **bad) for args in commands]  # at once: each is a Python start-up
    for args, proc in zip(commands, procs, strict=True):
        code, out, err = finished(proc)
        assert code == 2, (args, out, err)
        assert "Traceback" not in err and out == "", (args, out, err)
        lines = err.splitlines()
        assert lines[0].startswith("MARKETPLACE_ENV=development: refusing to start until these 3 problems"), lines
        assert [line.split(":", 1)[0] for line in lines[1:]] == [
            "MARKETPLACE_FIELD_KEY",
            "PORT",
            "MARKETPLACE_TOKEN_TTL",
        ]
    assert not (Path(cli_env["MARKETPLACE_DATA_DIR"]) / "celerybeat-schedule").exists()
    helped = run(["serve", "--help"], {**cli_env, **bad})  # help needs no settings
    assert helped.exit_code == 0 and "--port" in helped.output


def test_serve_refuses_a_port_already_in_use_in_one_line(cli_env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = finished(command(["serve", "--port", str(port), "--workers", "2"], cli_env))
    assert code == 2, (out, err)
    assert (
        err.splitlines()[-1]
        == f"PORT: 127.0.0.1:{port} is already in use (stop what serves it, or choose another port)"
    )
    assert "serving on" not in out
    assert port_problem("127.0.0.1", port) is None  # the listener is gone: the port is free again
    assert port_problem("203.0.113.7", port) is not None  # not an address of this machine


def test_job_names_the_known_jobs_for_an_unknown_one_and_reports_a_known_one(cli_env: dict[str, str]) -> None:
    load_jobs()
    unknown = command(["job", "nosuch.job"], cli_env)
    known = command(["job", "referrals.escalate_overdue"], cli_env)
    code, out, err = finished(unknown)
    assert code == 2 and out == ""
    assert err.splitlines()[-1] == f"unknown job 'nosuch.job' (known jobs: {', '.join(sorted(tasks.JOBS))})"
    assert "referrals.escalate_overdue" in err and "cases.purge_expired" in err
    code, out, err = finished(known)
    assert code == 0, err
    assert re.fullmatch(r"referrals\.escalate_overdue: 0 \(\d+\.\d s\)\n", out), out
    assert describe_result([3, 5]) == "2 (3, 5)" and describe_result({"ok": True}) == '{"ok": true}'
    assert describe_result(None) == "done" and describe_result(list(range(25))).endswith(", …)")


def test_new_field_key_prints_a_key_the_settings_take_even_when_they_refuse_others(cli_env: dict[str, str]) -> None:
    result = run(["new-field-key"], {**cli_env, "PORT": "abc"})
    assert result.exit_code == 0, result.output
    entry = result.output.strip()
    assert load_settings({"MARKETPLACE_FIELD_KEYS": entry}).field_key_id == entry.split(":", 1)[0]
    assert keyfiles.is_raw_key(entry.split(":", 1)[1])
