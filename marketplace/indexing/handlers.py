from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import outbox
from marketplace.indexing.service import mark_dirty
from marketplace.indexing.sync import backend_for, index_dirty
from marketplace.settings import Settings, get_settings


def _settings(session: AsyncSession) -> Settings:
    settings = session.info.get("settings")
    return settings if isinstance(settings, Settings) else get_settings()


async def _mark_and_index(session: AsyncSession, index_name: str, doc_id: int) -> None:
    # The flag is the durable record; if the engine is down the flag stays and the next pass picks it up.
    await mark_dirty(session, index_name, doc_id)
    await index_dirty(session, backend_for(_settings(session)), index_name)


@outbox.handler("service.changed")
async def service_changed(session: AsyncSession, payload: dict[str, Any]) -> None:
    await _mark_and_index(session, "services", int(payload["service_id"]))


@outbox.handler("organization.changed")
async def organization_changed(session: AsyncSession, payload: dict[str, Any]) -> None:
    await _mark_and_index(session, "organizations", int(payload["organization_id"]))
