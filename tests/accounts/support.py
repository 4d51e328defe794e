"""Helpers of the accounts tests: an organization's application, activation and login through the API."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from marketplace.audit.models import AuditEntry
from marketplace.db import Database
from tests.support.world import valid_code

NEW_PASSWORD = "Harbour-lantern-47-quietly"


def application(n: int = 101, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"深圳市福田区新芽社会工作服务中心{n}",
        "credit_code": valid_code(n),
        "legal_representative": "陈立",
        "contact_name": "周敏",
        "contact_phone": "13912345678",
        "street_ids": [],
        "qualifications": "民政局登记的社会服务机构，专职社工 12 名，儿童服务经验五年。",
        "contact_email": "office@example.org",
        "address": "福田区福华路 1 号",
    }
    body.update(overrides)
    return body


async def activate(
    client: AsyncTestClient[Litestar], username: str, code: str, password: str = NEW_PASSWORD
) -> dict[str, object]:
    """Set the account's own password with its one-time code, through the API."""
    r = await client.post("/api/v1/auth/activate", json={"username": username, "code": code, "new_password": password})
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


async def login(client: AsyncTestClient[Litestar], username: str, password: str = NEW_PASSWORD) -> dict[str, str]:
    r = await client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def audit_actions(db: Database, entity: str | None = None) -> list[tuple[str, str, int | None, str]]:
    """(action, entity, entity_id, username) of every audit row, oldest first."""
    async with db.session(write=False) as session:
        stmt = select(AuditEntry).order_by(AuditEntry.id)
        if entity:
            stmt = stmt.where(AuditEntry.entity == entity)
        return [(a.action, a.entity, a.entity_id, a.username) for a in (await session.scalars(stmt)).all()]


async def audit_details(db: Database) -> list[dict[str, Any]]:
    async with db.session(write=False) as session:
        return [dict(a.detail) for a in (await session.scalars(select(AuditEntry))).all()]
