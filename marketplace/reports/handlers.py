"""Outbox handlers: report exports run here, after the request that asked for them has committed."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import outbox
from marketplace.reports import jobs
from marketplace.settings import Settings, get_settings


@outbox.handler(jobs.TOPIC)
async def run_export(session: AsyncSession, payload: dict[str, Any]) -> None:
    settings = session.info.get("settings")
    await jobs.run_export(
        session, int(payload["job_id"]), settings if isinstance(settings, Settings) else get_settings()
    )
