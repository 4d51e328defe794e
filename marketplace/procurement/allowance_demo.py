"""Demo allowances: the year's monthly runs up to the current month (called by the procurement demo)."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.errors import DomainError
from marketplace.procurement import allowances

log = logging.getLogger("marketplace.demo")


async def load(session: AsyncSession, officer: Principal, year: int, budget_id: int) -> None:
    """Pay the year's months up to the current one, stopping where a line runs out (the 409 a clerk would see)."""
    last = clock.month_key()
    for month in range(1, 13):
        key = f"{year:04d}-{month:02d}"
        if key > last:
            break
        try:
            async with session.begin_nested():
                await allowances.run_month(session, officer, key, budget_id=budget_id)
        except DomainError as exc:
            log.info("procurement demo: allowances for %s not paid: %s", key, exc.detail)
            break
