"""Periodic jobs of the audit record (scheduled by workers/beat.py)."""

from __future__ import annotations

import logging
from typing import Any

from marketplace import tasks
from marketplace.audit import verification
from marketplace.db import Database

log = logging.getLogger("marketplace.audit")


@tasks.job("audit.verify_chains")
async def verify_chains(db: Database) -> dict[str, Any]:
    """Nightly: prove the audit log's and the ledger's hash chains intact; a broken chain is logged as an error
    (and shown on the console's verification page) naming the first broken row."""
    outcome = await verification.run(db, trigger="job")
    if not outcome.ok:
        log.error("hash chain broken: %s", "; ".join(outcome.lines()))
    return {"ok": outcome.ok, "rows_checked": outcome.record.rows_checked, "broken": outcome.record.broken}
