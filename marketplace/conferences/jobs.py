"""Periodic conference work: the decisions coming due and overdue (``conferences.service.remind_decisions``)."""

from __future__ import annotations

from marketplace import tasks
from marketplace.conferences import service as conferences
from marketplace.db import Database


@tasks.job("conferences.decisions_due")
async def decisions_due(db: Database) -> int:
    """Remind the owners of decisions due within ``REMIND_DAYS``; tell the street's supervisors (urgent) of the
    overdue ones. Returns the notifications written; a second run writes none."""
    async with db.session() as session:
        told = await conferences.remind_decisions(session)
    return told["due"] + told["overdue"]
