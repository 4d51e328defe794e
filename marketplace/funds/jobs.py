"""Periodic jobs of the fund (scheduled by workers/beat.py)."""

from __future__ import annotations

from marketplace import tasks
from marketplace.db import Database
from marketplace.funds import expiry, reconciling


@tasks.job("funds.reconcile_yesterday")
async def reconcile_yesterday(db: Database) -> list[int]:
    async with db.session() as session:
        return await reconciling.reconcile_yesterday(session, db.settings)


@tasks.job("funds.expire_pending_donations")
async def expire_pending_donations(db: Database) -> list[int]:
    """Online gifts unpaid past MARKETPLACE_PENDING_DONATION_HOURS: their payment cancelled, marked expired."""
    return (await expiry.expire_pending(db)).expired
