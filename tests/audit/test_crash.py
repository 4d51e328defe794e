"""No audit row is lost: `marketplace serve --workers 2` on the Futian demo is killed with SIGKILL (the whole process
group) in the middle of a load of children's reads, and every 200 the clients received has its audit rows.

Each response is correlated with its rows: a list page of 20 children must have left one ``list`` row per child id
it showed, a file one ``read`` row for its child; the database may hold more (requests whose rows were committed but
whose response the kill cut off), never fewer.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from marketplace.audit.models import AuditEntry
from marketplace.auth.models import User
from marketplace.db import Database
from marketplace.settings import load_settings
from tests.support.databases import PostgresTemplate, SqliteTemplate
from tests.support.servers import free_port, wait_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "demo-password"
CLIENTS = 48
LOAD_BEFORE_KILL_S = 4.0


def cli(env: dict[str, str], *args: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "marketplace.cli", *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the kill takes the server and all its workers
        )


@pytest.fixture
def demo_env(db_template: SqliteTemplate | PostgresTemplate, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A data directory (its development keys) and a database (SQLite file or the test PostgreSQL) with the demo."""
    url = db_template.new_database(tmp_path)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "MARKETPLACE_ENV": "development",
        "MARKETPLACE_DATA_DIR": str(tmp_path / "data"),
        "MARKETPLACE_DATABASE_URL": url,
        "MARKETPLACE_LOGIN_RATE_LIMIT": "1000",
    }
    for name in ("REDIS_URL", "MEILI_URL", "MARKETPLACE_SEARCH_PATH", "MARKETPLACE_TASKS_EAGER"):
        env.pop(name, None)
    log = tmp_path / "demo.log"
    loader = cli(env, "demo", log=log)
    assert loader.wait(300) == 0, log.read_text(errors="replace")[-3000:]
    yield env
    if isinstance(db_template, PostgresTemplate):
        db_template.drop(url)


class Audits:
    """The director's child audit rows, read from the database the server writes to (for live checks)."""

    def __init__(self, env: dict[str, str], username: str) -> None:
        self.db = Database(load_settings(env))
        self.username = username
        self.user_id: int | None = None

    async def counts(self, action: str | None = None, entity_ids: list[int] | None = None) -> Counter[tuple[str, int]]:
        async with self.db.session(write=False) as s:
            if self.user_id is None:
                self.user_id = await s.scalar(select(User.id).where(User.username == self.username))
            stmt = (
                select(AuditEntry.action, AuditEntry.entity_id, func.count())
                .where(AuditEntry.user_id == self.user_id, AuditEntry.entity == "child")
                .group_by(AuditEntry.action, AuditEntry.entity_id)
            )
            if action is not None:
                stmt = stmt.where(AuditEntry.action == action, AuditEntry.entity_id.in_(entity_ids or []))
            return Counter({(a, i): n for a, i, n in (await s.execute(stmt)).all()})

    async def close(self) -> None:
        await self.db.dispose()


class Killer:
    """SIGKILL to the server's whole process group (the granian main process and both workers), once."""

    def __init__(self, server: subprocess.Popen[bytes]) -> None:
        self.server = server
        self.killed = asyncio.Event()

    def kill(self) -> None:
        if not self.killed.is_set():
            os.killpg(self.server.pid, signal.SIGKILL)
            self.killed.set()


async def hammer(
    base: str, token: str, ids: list[int], killer: Killer, kill_at: float, audits: Audits
) -> tuple[list[tuple[str, list[int]]], list[str]]:
    """Many concurrent clients reading the list and single files until the server dies: the 200s they received,
    and the live check's findings (a response whose audit rows were not all committed when the client had it).

    The kill comes the instant a client has received a 200 after ``kill_at``, before anything else runs: the
    server has just sent that response (and others are in flight), so rows not yet committed when a response goes
    out are lost with the server."""
    killed = killer.killed
    seen: list[tuple[str, list[int]]] = []
    shown_live: Counter[tuple[str, int]] = Counter()
    late: list[str] = []
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)

    async def client(n: int, http: httpx.AsyncClient) -> None:
        rng = random.Random(n)
        failures = 0
        while failures < 3:
            if rng.random() < 0.5:
                offset = rng.randrange(0, max(1, len(ids) - 20))
                url, kind = f"{base}/api/v1/children?limit=20&offset={offset}", "list"
            else:
                url, kind = f"{base}/api/v1/children/{rng.choice(ids)}", "read"
            try:
                r = await http.get(url, headers=headers)
            except httpx.HTTPError:
                failures += 1  # the server is gone (or going): nothing was received
                if not killed.is_set():
                    await asyncio.sleep(0.05)
                continue
            if r.status_code == 200:
                body = r.json()
                seen.append((kind, [c["id"] for c in body["items"]] if kind == "list" else [body["id"]]))
                if not killed.is_set() and time.monotonic() >= kill_at:
                    killer.kill()
                if not killed.is_set():
                    # Live: every response received so far must already have its rows committed.
                    keys = [(kind, i) for i in seen[-1][1]]
                    shown_live.update(keys)
                    expected = {key: shown_live[key] for key in keys}
                    committed = await audits.counts(kind, seen[-1][1])
                    late.extend(
                        f"{key}: {count} shown, {committed[key]} committed"
                        for key, count in expected.items()
                        if committed[key] < count
                    )
            else:
                assert r.status_code in (503,), (r.status_code, r.text[:300])
            if killed.is_set():
                failures += 1

    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        await asyncio.gather(*(client(n, http) for n in range(CLIENTS)))
    return seen, late


async def audit_counts(env: dict[str, str], username: str) -> Counter[tuple[str, int]]:
    audits = Audits(env, username)
    try:
        return await audits.counts()
    finally:
        await audits.close()


def test_every_read_answered_200_has_its_audit_rows_after_kill_9(demo_env: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    server_log = tmp_path / "server.log"
    server = cli(demo_env, "serve", "--workers", "2", "--port", str(port), log=server_log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_port(port, timeout=60)
        deadline = time.monotonic() + 30
        while httpx.get(f"{base}/health", timeout=5).status_code != 200:
            assert time.monotonic() < deadline, server_log.read_text(errors="replace")[-3000:]
            time.sleep(0.2)
        r = httpx.post(f"{base}/api/v1/auth/login", json={"username": "director", "password": PASSWORD}, timeout=10)
        assert r.status_code == 200, r.text
        token = r.json()["access_token"]
        r = httpx.get(f"{base}/api/v1/children?limit=200", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert r.status_code == 200, r.text
        ids = [c["id"] for c in r.json()["items"]]
        assert len(ids) >= 20
        before = asyncio.run(audit_counts(demo_env, "director"))

        async def load_then_kill() -> tuple[list[tuple[str, list[int]]], list[str]]:
            killer = Killer(server)
            audits = Audits(demo_env, "director")
            try:
                kill_at = time.monotonic() + LOAD_BEFORE_KILL_S
                load = asyncio.ensure_future(hammer(base, token, ids, killer, kill_at, audits))
                try:
                    await asyncio.wait_for(killer.killed.wait(), LOAD_BEFORE_KILL_S + 20)
                except TimeoutError:
                    killer.kill()
                    pytest.fail("no 200 came after the load started: the server was killed on a timer")
                return await load
            finally:
                await audits.close()

        seen, late = asyncio.run(load_then_kill())
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(10)

    assert server.returncode == -signal.SIGKILL
    shown: Counter[tuple[str, int]] = Counter()
    for kind, child_ids in seen:
        shown.update((kind, i) for i in child_ids)
    assert sum(1 for kind, _ in seen if kind == "list") >= 20 and sum(1 for kind, _ in seen if kind == "read") >= 20
    after = asyncio.run(audit_counts(demo_env, "director"))
    written = after - before
    missing = {key: n - written[key] for key, n in shown.items() if written[key] < n}
    assert not missing and not late, (
        f"{len(seen)} responses shown; after the kill {sum(missing.values())} audit rows missing "
        f"(first: {sorted(missing.items())[:5]}); while serving, {len(late)} children were shown before their audit "
        f"row was committed (first: {late[:5]})"
    )
