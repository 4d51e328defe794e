from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import outbox
from marketplace.indexing.service import mark_dirty


@outbox.handler("service.changed")
async def service_changed(session: AsyncSession, payload: dict[str, Any]) -> None:
    await mark_dirty(session, "services", int(payload["service_id"]))


@outbox.handler("organization.changed")
async def organization_changed(session: AsyncSession, payload: dict[str, Any]) -> None:
    await mark_dirty(session, "organizations", int(payload["organization_id"]))
