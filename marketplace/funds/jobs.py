"""Periodic jobs of the fund (scheduled by workers/beat.py)."""

from __future__ import annotations

from marketplace import tasks
from marketplace.db import Database
from marketplace.funds import reconciling


@tasks.job("funds.reconcile_yesterday")
async def reconcile_yesterday(db: Database) -> list[int]:
    async with db.session() as session:
        return await reconciling.reconcile_yesterday(session, db.settings)
