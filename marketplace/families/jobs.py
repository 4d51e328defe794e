"""Periodic work of the families feature: the daily contact check (``families.service.check_contact``)."""

from __future__ import annotations

from marketplace import tasks
from marketplace.db import Database
from marketplace.families import service


@tasks.job("families.contact_check")
async def contact_check(db: Database) -> int:
    """Open (or climb) an alert for every parent away whose contact stopped; idempotent (one alert per silence, one
    notification per alert and level). Returns how many alerts it opened or escalated."""
    async with db.session() as session:
        done = await service.check_contact(session)
    return done["opened"] + done["escalated"]
