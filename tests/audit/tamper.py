"""Tampering as the tables' owner could: the append-only triggers switched off, rows changed by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.audit import verification
from marketplace.db import Database


@asynccontextmanager
async def owner(db: Database) -> AsyncIterator[AsyncSession]:
    """A session as the table owner: the append-only triggers switched off for what it does, then back on."""
    sqlite = db.settings.is_sqlite
    async with db.session() as s:
        if sqlite:
            saved = (await s.execute(text("SELECT name, sql FROM sqlite_master WHERE type='trigger'"))).all()
            for name, _ in saved:
                await s.execute(text(f"DROP TRIGGER {name}"))
        else:
            for table in ("audit_log", "journal_entries", "ledger_postings"):
                await s.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        yield s
        if sqlite:
            for _, sql in saved:
                await s.execute(text(sql))
        else:
            for table in ("audit_log", "journal_entries", "ledger_postings"):
                await s.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))


async def verify(db: Database) -> verification.Outcome:
    return await verification.run(db, trigger="cli")
