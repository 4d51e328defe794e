"""Periodic work of the workforce: the daily certificate check (``workforce.service.check_certificates``)."""

from __future__ import annotations

from marketplace import tasks
from marketplace.db import Database
from marketplace.workforce import service


@tasks.job("workforce.certificates")
async def certificates(db: Database) -> int:
    """Announce certificates expiring within 60 days (holder and supervisors, once per certificate and threshold)
    and flag expired ones; idempotent. Returns how many certificates it announced or flagged."""
    async with db.session() as session:
        done = await service.check_certificates(session)
    return done["noticed"] + done["flagged"]
