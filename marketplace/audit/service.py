"""The audit trail: who read or changed which protected record, and which fields."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.audit.models import AuditEntry
from marketplace.auth.principal import Principal
from marketplace.db import utcnow
from marketplace.pagination import fetch_page

READERS = frozenset({"district_admin", "auditor"})


async def record(
    session: AsyncSession,
    principal: Principal | None,
    action: str,
    entity: str,
    entity_id: int | None,
    fields: Sequence[str] = (),
    detail: dict[str, Any] | None = None,
) -> None:
    await record_many(session, principal, action, entity, [entity_id], fields, detail)


async def record_many(
    session: AsyncSession,
    principal: Principal | None,
    action: str,
    entity: str,
    entity_ids: Iterable[int | None],
    fields: Sequence[str] = (),
    detail: dict[str, Any] | None = None,
) -> None:
    """One row per record in a single INSERT: a list page of 200 children costs one statement."""
    now = utcnow()
    rows = [
        {
            "at": now,
            "user_id": principal.account_id if principal else None,
            "username": principal.username if principal else "system",
            # The system acting without an account (anonymous callers, the command line) has no role of its own.
            "role": principal.role if principal and principal.account_id else "system",
            "action": action,
            "entity": entity,
            "entity_id": entity_id,
            "fields": list(fields),
            "detail": detail or {},
        }
        for entity_id in entity_ids
    ]
    if rows:
        await session.execute(insert(AuditEntry), rows)


@dataclass
class AuditFilters:
    user_id: int | None = None
    action: str | None = None
    entity: str | None = None
    entity_id: int | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


async def list_entries(
    session: AsyncSession, principal: Principal, filters: AuditFilters, *, limit: int, offset: int
) -> tuple[list[AuditEntry], int]:
    principal.require(*READERS)
    stmt = select(AuditEntry)
    if filters.user_id is not None:
        stmt = stmt.where(AuditEntry.user_id == filters.user_id)
    if filters.action:
        stmt = stmt.where(AuditEntry.action == filters.action)
    if filters.entity:
        stmt = stmt.where(AuditEntry.entity == filters.entity)
    if filters.entity_id is not None:
        stmt = stmt.where(AuditEntry.entity_id == filters.entity_id)
    if filters.since is not None:
        stmt = stmt.where(AuditEntry.at >= filters.since)
    if filters.until is not None:
        stmt = stmt.where(AuditEntry.at < filters.until)
    return await fetch_page(session, stmt, AuditEntry.id.desc(), limit=limit, offset=offset)
