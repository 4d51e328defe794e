"""Periodic job of the idempotency keys (scheduled by workers/beat.py)."""

from __future__ import annotations

from typing import Any

from marketplace import tasks
from marketplace.db import Database
from marketplace.idempotency import service


@tasks.job("idempotency.purge_expired")
async def purge_expired(db: Database) -> dict[str, Any]:
    """Hourly: keys whose answer is past its 24 hours (and claims of requests that died) are deleted."""
    return {"deleted": await service.purge(db)}
