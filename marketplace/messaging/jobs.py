"""The delivery of notifications by email and SMS (``marketplace.messaging.service.deliver``), every minute."""

from __future__ import annotations

from marketplace import tasks
from marketplace.db import Database
from marketplace.messaging import ports, service


@tasks.job("messaging.deliver")
async def deliver(db: Database) -> int:
    """Send what is due on the configured channels; returns the messages sent or failed for good. Idempotent: a
    notification is sent at most once per channel, however many runs overlap."""
    result = await service.deliver(db, ports.channels(db.settings))
    return result.total()
