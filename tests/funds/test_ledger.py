from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, text, update

from marketplace.db import Database
from marketplace.errors import Conflict, Invalid
from marketplace.funds import ledger
from marketplace.funds.models import JournalEntry, Posting


async def test_post_balance_and_idempotency(db: Database) -> None:
    async with db.session() as s:
        e = await ledger.post_entry(
            s,
            idempotency_key="bank:2026-11-01:001",
            memo="gift",
            postings=[("fund:1:cash", 10_000), ("fund:1:income:unrestricted", -10_000)],
            occurred_on=dt.date(2026, 11, 1),
        )
        again = await ledger.post_entry(
            s,
            idempotency_key="bank:2026-11-01:001",
            memo="a retry",
            postings=[("fund:1:income:unrestricted", -10_000), ("fund:1:cash", 10_000)],
        )
        assert again.id == e.id
        assert await ledger.balance(s, "fund:1:cash") == 10_000
        assert await ledger.balance(s, "fund:1:income:unrestricted") == -10_000
        assert await ledger.balance(s, "never:used") == 0
        with pytest.raises(Conflict):
            await ledger.post_entry(
                s,
                idempotency_key="bank:2026-11-01:001",
                memo="different",
                postings=[("fund:1:cash", 9_999), ("fund:1:income:unrestricted", -9_999)],
            )
        assert await ledger.trial_balance(s) == 0


@pytest.mark.parametrize(
    "postings",
    [[], [("a", 1)], [("a", 5), ("b", -4)], [("a", 0), ("b", 0)], [("", 1), ("b", -1)], [("a", 1.5), ("b", -1.5)]],
)
async def test_unbalanced_or_empty_entries_are_refused(db: Database, postings: list[tuple[str, int]]) -> None:
    async with db.session() as s:
        with pytest.raises(Invalid):
            await ledger.post_entry(s, idempotency_key="k", memo="", postings=postings)
        assert await ledger.trial_balance(s) == 0
        assert (await s.execute(text("SELECT count(*) FROM journal_entries"))).scalar() == 0


async def test_reversal_once_and_not_of_a_reversal(db: Database) -> None:
    async with db.session() as s:
        e = await ledger.post_entry(s, idempotency_key="x", memo="m", postings=[("a", 300), ("b", -300)])
        r = await ledger.reverse_entry(s, e.id, reason="typo")
        assert r.reverses_id == e.id
        assert await ledger.balance(s, "a") == 0 and await ledger.balance(s, "b") == 0
        with pytest.raises(Conflict):
            await ledger.reverse_entry(s, e.id, reason="again")
        with pytest.raises(Conflict):
            await ledger.reverse_entry(s, r.id, reason="undo the undo")


async def test_database_refuses_updates_and_deletes_of_posted_rows(db: Database) -> None:
    async with db.session() as s:
        e = await ledger.post_entry(s, idempotency_key="y", memo="m", postings=[("a", 1), ("b", -1)])
        entry_id = e.id
    for stmt in (
        update(Posting).where(Posting.entry_id == entry_id).values(amount_fen=2),
        delete(Posting).where(Posting.entry_id == entry_id),
        update(JournalEntry).where(JournalEntry.id == entry_id).values(memo="changed"),
        delete(JournalEntry).where(JournalEntry.id == entry_id),
    ):
        with pytest.raises(Exception, match="immutable"):
            async with db.session() as s:
                await s.execute(stmt)
    async with db.session() as s:
        assert await ledger.balance(s, "a") == 1
        assert (await ledger.get_entry(s, entry_id)).memo == "m"
