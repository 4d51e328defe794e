"""Periodic jobs: the monthly allowance run (scheduled early each month; safe to run any number of times). It
prepares the month's list; the district signs it off and the clerk pays it (marketplace.procurement.allowances)."""

from __future__ import annotations

import logging
from typing import Any

from marketplace import clock
from marketplace.db import Database
from marketplace.errors import DomainError
from marketplace.procurement import allowances
from marketplace.settings import get_settings
from marketplace.tasks import job

log = logging.getLogger("marketplace.procurement")


@job("procurement.monthly_allowances")
async def monthly_allowances(db: Database) -> dict[str, Any]:
    """Pay this district month's allowances; a repeat pays only people who became eligible since."""
    month = clock.month_key()
    try:
        async with db.session() as session:
            result = await allowances.run_month(session, None, month, region=get_settings().allowances.region)
    except DomainError as exc:
        # No budget for the year, or a line without room: nothing was paid; the district sees it in the log.
        log.warning("monthly allowances for %s not paid: %s", month, exc.detail)
        return {"month": month, "paid": 0, "total_fen": 0, "error": exc.detail}
    log.info("monthly allowances for %s: %s paid, %s fen", month, result.paid_count, result.total_fen)
    return {"month": month, "paid": result.paid_count, "total_fen": result.total_fen, "run_id": result.run_id}
