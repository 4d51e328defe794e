"""The general ledger: balanced, idempotent, append-only journal entries over string-coded accounts.

Other features post here too (the special budget uses codes such as ``budget:2026:purchase_services:paid``).
Amounts are integer fen, debits positive and credits negative; every entry sums to zero. An entry is keyed
by the real-world event it records (a Stripe event, a bank line, a disbursement id), so posting the same event
twice returns the first entry instead of counting the money again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from marketplace import clock
from marketplace.audit import chain
from marketplace.db import utcnow
from marketplace.errors import Conflict, Invalid, NotFound
from marketplace.funds.models import JOURNAL_CHAIN, POSTING_CHAIN, JournalEntry, LedgerAccount, Posting

MAX_CODE = 200
MAX_KEY = 200


def _fingerprint(postings: Iterable[tuple[str, int]]) -> str:
    lines = "\n".join(f"{code}\t{amount}" for code, amount in sorted(postings))
    return hashlib.sha256(lines.encode()).hexdigest()


def validate_postings(postings: Sequence[tuple[str, int]]) -> None:
    if not postings:
        raise Invalid.field("postings", "分录不能为空 (an entry needs postings)")
    errors = []
    for i, (code, amount) in enumerate(postings):
        if not isinstance(code, str) or not code or len(code) > MAX_CODE or code != code.strip():
            errors.append({"field": f"postings[{i}].account", "message": "科目代码无效 (bad account code)"})
        if not isinstance(amount, int) or isinstance(amount, bool) or amount == 0:
            errors.append({"field": f"postings[{i}].amount_fen", "message": "金额须为非零整数分 (non-zero fen)"})
    if errors:
        raise Invalid("分录无效 (invalid postings)", errors=errors)
    total = sum(amount for _, amount in postings)
    if total != 0:
        raise Invalid.field("postings", f"借贷不平衡，差额 {total} 分 (entry does not balance by {total} fen)")


async def account_ids(session: AsyncSession, codes: Iterable[str]) -> dict[str, int]:
    """Ids for the given codes, creating missing accounts (race-free: insert-or-ignore, then read)."""
    wanted = sorted(set(codes))
    rows = await session.execute(select(LedgerAccount.code, LedgerAccount.id).where(LedgerAccount.code.in_(wanted)))
    found: dict[str, int] = {code: id_ for code, id_ in rows.all()}
    missing = [c for c in wanted if c not in found]
    if missing:
        dialect = session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        now = clock.now()
        stmt = insert(LedgerAccount).values([{"code": c, "created_at": now} for c in missing])
        await session.execute(stmt.on_conflict_do_nothing(index_elements=["code"]))
        rows = await session.execute(
            select(LedgerAccount.code, LedgerAccount.id).where(LedgerAccount.code.in_(missing))
        )
        found.update({code: id_ for code, id_ in rows.all()})
    return found


async def _by_key(session: AsyncSession, key: str) -> JournalEntry | None:
    return await session.scalar(
        select(JournalEntry)
        .where(JournalEntry.idempotency_key == key)
        .options(selectinload(JournalEntry.postings).selectinload(Posting.account))
    )


def _same_or_conflict(entry: JournalEntry, fingerprint: str, key: str) -> JournalEntry:
    if entry.fingerprint != fingerprint:
        raise Conflict(
            f"幂等键 {key} 已用于不同的分录 (idempotency key reused with different postings)",
            entry_id=entry.id,
        )
    return entry


async def post_entry(
    session: AsyncSession,
    *,
    idempotency_key: str,
    memo: str,
    postings: list[tuple[str, int]],
    occurred_on: dt.date | None = None,
    source: str = "",
    reverses_id: int | None = None,
) -> JournalEntry:
    """Post a balanced entry once per idempotency key; a repeat with the same postings returns the first."""
    if not idempotency_key or len(idempotency_key) > MAX_KEY:
        raise Invalid.field("idempotency_key", "幂等键须为 1-200 个字符 (idempotency key 1-200 chars)")
    validate_postings(postings)
    fingerprint = _fingerprint(postings)
    existing = await _by_key(session, idempotency_key)
    if existing is not None:
        return _same_or_conflict(existing, fingerprint, idempotency_key)
    ids = await account_ids(session, (code for code, _ in postings))
    values: dict[str, Any] = {
        "idempotency_key": idempotency_key,
        "memo": memo[:500],
        "source": source[:80],
        "occurred_on": occurred_on or clock.today(),
        "posted_at": utcnow(),
        "fingerprint": fingerprint,
        "reverses_id": reverses_id,
    }
    try:
        # A savepoint, so a concurrent poster of the same key (or a second reversal) loses cleanly.
        async with session.begin_nested():
            # The entry and its lines join the ledger's hash chains, in order (the chains' appenders serialised).
            await session.run_sync(lambda s: chain.link(s.connection(), JOURNAL_CHAIN, [values]))
            entry = JournalEntry(**values)
            session.add(entry)
            await session.flush()
            lines: list[dict[str, Any]] = [
                {"entry_id": entry.id, "account_id": ids[c], "amount_fen": a} for c, a in postings
            ]
            await session.run_sync(lambda s: chain.link(s.connection(), POSTING_CHAIN, lines))
            session.add_all([Posting(**line) for line in lines])
            await session.flush()
    except IntegrityError:
        existing = await _by_key(session, idempotency_key)
        if existing is not None:
            return _same_or_conflict(existing, fingerprint, idempotency_key)
        if reverses_id is not None:
            raise Conflict(f"分录 {reverses_id} 已被冲销 (entry already reversed)") from None
        raise
    loaded = await _by_key(session, idempotency_key)
    assert loaded is not None
    return loaded


async def get_entry(session: AsyncSession, entry_id: int) -> JournalEntry:
    entry = await session.scalar(
        select(JournalEntry)
        .where(JournalEntry.id == entry_id)
        .options(selectinload(JournalEntry.postings).selectinload(Posting.account))
    )
    if entry is None:
        raise NotFound(f"分录 {entry_id} 不存在 (journal entry not found)")
    return entry


async def reversal_of(session: AsyncSession, entry_id: int) -> JournalEntry | None:
    return await session.scalar(select(JournalEntry).where(JournalEntry.reverses_id == entry_id))


async def reverse_entry(session: AsyncSession, entry_id: int, *, reason: str) -> JournalEntry:
    """Post the mirror image of an entry. An entry is reversed at most once, and a reversal is not reversed."""
    original = await get_entry(session, entry_id)
    if original.reverses_id is not None:
        raise Conflict(f"分录 {entry_id} 本身是冲销分录，不能再冲销 (a reversal cannot be reversed)")
    if await reversal_of(session, entry_id) is not None:
        raise Conflict(f"分录 {entry_id} 已被冲销 (entry already reversed)")
    if not reason.strip():
        raise Invalid.field("reason", "冲销须说明原因 (a reversal needs a reason)")
    return await post_entry(
        session,
        idempotency_key=f"reversal:{entry_id}",
        memo=f"冲销 #{entry_id}: {reason.strip()}"[:500],
        postings=[(p.account.code, -p.amount_fen) for p in original.postings],
        source="reversal",
        reverses_id=entry_id,
    )


async def balance(session: AsyncSession, account_code: str) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(Posting.amount_fen), 0))
        .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
        .where(LedgerAccount.code == account_code)
    )
    return int(total or 0)


async def balances(session: AsyncSession, prefix: str) -> dict[str, int]:
    """Balances of every account whose code starts with ``prefix`` (e.g. ``fund:1:``)."""
    rows = await session.execute(
        select(LedgerAccount.code, func.coalesce(func.sum(Posting.amount_fen), 0))
        .join(Posting, Posting.account_id == LedgerAccount.id)
        .where(LedgerAccount.code.startswith(prefix, autoescape=True))
        .group_by(LedgerAccount.code)
    )
    return {code: int(total) for code, total in rows.all()}


async def trial_balance(session: AsyncSession) -> int:
    """Sum of every posting ever made: zero in a sound ledger."""
    return int(await session.scalar(select(func.coalesce(func.sum(Posting.amount_fen), 0))) or 0)
