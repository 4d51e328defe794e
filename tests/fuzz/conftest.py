"""The app under granian on a free port, over one database loaded with the Futian demo (shared by the module), and a
fuzzing account for each role of the system.

The fuzzing accounts copy the role and scope of the demo's login for that role (``fuzz-director`` is a child
director of 福山社区 like ``director``) under ids far above the demo's: the fuzzer's writes address demo objects
(ids 1..6: ``POST /users/1/disable`` disables the demo's ``admin``), never the accounts it signs in with.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from marketplace.auth.models import User
from marketplace.db import Database
from marketplace.settings import Settings
from tests.support.databases import DemoTemplate, PostgresTemplate, SqliteTemplate, test_settings
from tests.support.servers import granian_app

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "demo-password"
# Each role of the system (marketplace.auth.principal.ROLES, and an organization's own administrator) and the demo
# login whose role and scope its fuzzing account copies; None: no login at all.
ROLE_LOGINS: dict[str, str | None] = {
    "district_admin": "admin",
    "child_supervisor": "supervisor",
    "child_director": "director",
    "org_staff": "org",
    "org_admin": "org-1",
    "fund_manager": "fund",
    "procurement_officer": "procurement",
    "auditor": "auditor",
    "anonymous": None,
}
FUZZ_ID_BASE = 900_000


def fuzz_username(role: str) -> str:
    return f"fuzz-{role.replace('_', '-')}"


async def add_fuzz_accounts(settings: Settings) -> None:
    """One account per role, a copy of the demo's login for it, signing in with the demo's password."""
    db = Database(settings)
    try:
        async with db.session() as session:
            for n, (role, login) in enumerate(ROLE_LOGINS.items(), start=1):
                if login is None:
                    continue
                demo = (await session.scalars(select(User).where(User.username == login))).one()
                session.add(
                    User(
                        id=FUZZ_ID_BASE + n,
                        username=fuzz_username(role),
                        display_name=f"模糊测试（{demo.display_name}）",
                        password_hash=demo.password_hash,
                        role=demo.role,
                        street_id=demo.street_id,
                        community_id=demo.community_id,
                        organization_id=demo.organization_id,
                        is_org_admin=demo.is_org_admin,
                        phone=demo.phone,
                        must_change_password=False,
                    )
                )
    finally:
        await db.dispose()


@dataclass(frozen=True)
class DemoServer:
    url: str
    log: Path

    def login_as(self, role: str) -> dict[str, str]:
        """The headers of ``role``'s fuzzing account ({} for an anonymous caller)."""
        return {} if ROLE_LOGINS[role] is None else self.login(fuzz_username(role))

    def login(self, username: str) -> dict[str, str]:
        r = httpx.post(f"{self.url}/api/v1/auth/login", json={"username": username, "password": PASSWORD}, timeout=10)
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    def tail(self, chars: int = 6000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


@pytest.fixture(scope="module")
def demo_server(
    db_template: SqliteTemplate | PostgresTemplate,
    demo_template: DemoTemplate,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[DemoServer]:
    tmp = tmp_path_factory.mktemp("fuzz")
    url = demo_template.new_settings(tmp).database_url
    asyncio.run(add_fuzz_accounts(test_settings(url, tmp)))
    log = tmp / "server.log"
    env = {**os.environ, "FUZZ_DATABASE_URL": url, "FUZZ_TMP": str(tmp), "PYTHONPATH": str(ROOT)}
    env.pop("REDIS_URL", None)
    try:
        with granian_app("tests.fuzz.app_factory:make", env, log) as base:
            yield DemoServer(base, log)
    finally:
        if isinstance(db_template, PostgresTemplate):
            db_template.drop(url)
