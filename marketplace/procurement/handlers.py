"""Outbox handlers of the procurement feature: each change of a procurement freezes its OCDS release; allowance
runs queued by the console or the API are prepared here."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import outbox
from marketplace.procurement import allowance_jobs, ocds_releases
from marketplace.settings import Settings, get_settings

# A budget is published with the procurements it funds (their OCDS releases are frozen by their own topics).
outbox.record_only("budget.created", "a budget line has no release of its own; the procurements it funds do")


@outbox.handler("procurement.created")
@outbox.handler("procurement.awarded")
@outbox.handler("procurement.ended")
async def procurement_changed(session: AsyncSession, payload: dict[str, Any]) -> None:
    await ocds_releases.freeze(session, int(payload["procurement_id"]))


@outbox.handler("contract.signed")
@outbox.handler("contract.milestone_accepted")
@outbox.handler("contract.paid")
@outbox.handler("contract.amended")
@outbox.handler("contract.terminated")
async def contract_changed(session: AsyncSession, payload: dict[str, Any]) -> None:
    procurement_id = await ocds_releases.procurement_of_contract(session, int(payload["contract_id"]))
    if procurement_id is not None:
        await ocds_releases.freeze(session, procurement_id)


@outbox.handler(allowance_jobs.TOPIC)
async def prepare_allowance_run(session: AsyncSession, payload: dict[str, Any]) -> None:
    settings = session.info.get("settings")
    await allowance_jobs.run_prepare(
        session, int(payload["run_id"]), settings if isinstance(settings, Settings) else get_settings()
    )
