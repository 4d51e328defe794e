"""The ledger's hash chains: journal entries and their lines each commit to the row before; an amount edited by hand
(triggers off, as the owner could) or a line deleted makes `marketplace verify` name the row; concurrent posters on
PostgreSQL leave one unbroken chain."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import select, text

from marketplace.audit import chain
from marketplace.db import Database
from marketplace.funds import ledger
from marketplace.funds.models import JOURNAL_CHAIN, POSTING_CHAIN, JournalEntry, Posting
from tests.audit.tamper import owner, verify


async def post(db: Database, n: int) -> None:
    async with db.session() as s:
        for i in range(n):
            await ledger.post_entry(
                s,
                idempotency_key=f"test:{i}",
                memo=f"gift {i}",
                postings=[("fund:1:cash", 100 + i), ("fund:1:income:unrestricted", -100 - i)],
                occurred_on=dt.date(2026, 11, 1),
            )
        await ledger.reverse_entry(s, 1, reason="entered twice")


async def lines(db: Database) -> list[Posting]:
    async with db.session(write=False) as s:
        return list((await s.scalars(select(Posting).order_by(Posting.id))).all())


async def test_entries_and_lines_are_chained_as_posted(db: Database) -> None:
    await post(db, 4)
    async with db.session(write=False) as s:
        entries = list((await s.scalars(select(JournalEntry).order_by(JournalEntry.id))).all())
    assert len(entries) == 5
    for rows, spec in ((entries, JOURNAL_CHAIN), (await lines(db), POSTING_CHAIN)):
        prev = chain.GENESIS
        for row in rows:
            assert (row.prev_hash, row.hash) == (prev, chain.digest(spec, vars(row), prev))
            prev = row.hash
    outcome = await verify(db)
    assert outcome.ok, outcome.lines()
    assert {c["table"]: c["rows"] for c in outcome.record.chains}["ledger_postings"] == 10


async def test_an_amount_edited_by_hand_is_named(db: Database) -> None:
    await post(db, 3)
    victim = (await lines(db))[3]
    async with owner(db) as s:
        await s.execute(
            text("UPDATE ledger_postings SET amount_fen = amount_fen + 1 WHERE id = :id"), {"id": victim.id}
        )
    outcome = await verify(db)
    broken = outcome.record.broken
    assert broken is not None
    assert (broken["table"], broken["id"], broken["problem"], broken["found"]) == (
        "ledger_postings",
        victim.id,
        "hash",
        victim.hash,
    )
    assert f"ledger_postings #{victim.id}" in " ".join(outcome.lines())


async def test_a_line_deleted_or_an_entry_memo_edited_is_named(db: Database) -> None:
    await post(db, 3)
    all_lines = await lines(db)
    async with owner(db) as s:
        await s.execute(text("DELETE FROM ledger_postings WHERE id = :id"), {"id": all_lines[1].id})
        await s.execute(text("UPDATE journal_entries SET memo = 'altered' WHERE id = 3"))
    results = {r.table: r for r in (await verify(db)).results}
    postings, journal = results["ledger_postings"].broken, results["journal_entries"].broken
    assert postings is not None and (postings.id, postings.problem) == (all_lines[2].id, "prev_hash")
    assert journal is not None and (journal.id, journal.problem) == (3, "hash")


async def test_concurrent_posters_leave_one_unbroken_chain(db: Database) -> None:
    async def one(i: int) -> None:
        async with db.session() as s:
            await ledger.post_entry(
                s,
                idempotency_key=f"parallel:{i}",
                memo="",
                postings=[("fund:1:cash", 1), ("fund:1:income:unrestricted", -1)],
            )

    await asyncio.gather(*(one(i) for i in range(12)))
    outcome = await verify(db)
    assert outcome.ok, outcome.lines()
    assert {c["table"]: c["rows"] for c in outcome.record.chains}["journal_entries"] == 12
