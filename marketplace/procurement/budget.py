"""Budget lines: figures, row locks, commitments and payments, and their ledger postings.

Every commitment and payment locks its budget line first (``SELECT ... FOR UPDATE``), then re-reads the line's
sums, so concurrent requests queue on the line and none can spend what another already took. On SQLite every
write transaction is ``BEGIN IMMEDIATE``, which serialises the same way.

Each money row is also posted to the general ledger (``marketplace.funds.ledger``) as a balanced entry on three
accounts per line, so the budget-execution report can be proved against it: ``budget:line:<id>:available`` (debit: what may still be committed), ``...:committed`` (committed, not yet
paid), ``...:paid`` and ``...:held`` (room held for approved procurements until their award, cancellation or
failure). Appropriation = available + held + committed + paid on the ledger.

A procurement holds its estimate when it is approved (an open tender, which needs no method approval, when it is
opened); the award turns the hold into a commitment of the winning price (the rest is released), signing moves that
commitment to the contract's amount, and cancellation or failure releases whatever the procurement still holds or
has committed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.errors import Conflict, NotFound
from marketplace.funds import ledger
from marketplace.procurement.models import BudgetAdjustment, BudgetHold, BudgetLine, Commitment, Payment
from marketplace.procurement.rules import yuan


def account(line_id: int, kind: str) -> str:
    return f"budget:line:{line_id}:{kind}"


async def post(
    session: AsyncSession, key: str, memo: str, postings: list[tuple[str, int]], on: dt.date | None = None
) -> None:
    await ledger.post_entry(
        session, idempotency_key=key, memo=memo, postings=postings, occurred_on=on, source="procurement"
    )


def yuan_text(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


def rate_text(bp: int) -> str:
    return f"{bp // 100}.{bp % 100:02d}%"


@dataclass(frozen=True)
class LineFigures:
    appropriation_fen: int
    committed_fen: int
    paid_fen: int
    held_fen: int = 0

    @property
    def available_fen(self) -> int:
        """What may still be held or committed: neither committed nor held for an approved procurement."""
        return self.appropriation_fen - self.committed_fen - self.held_fen

    @property
    def unpaid_commitment_fen(self) -> int:
        return self.committed_fen - self.paid_fen

    @property
    def execution_bp(self) -> int:
        """Paid over appropriation in basis points (1/100 of a percent), rounded down."""
        return self.paid_fen * 10_000 // self.appropriation_fen if self.appropriation_fen > 0 else 0


async def _sums(
    session: AsyncSession, model: type[Commitment] | type[Payment] | type[BudgetHold], ids: Sequence[int]
) -> dict[int, int]:
    rows = await session.execute(
        select(model.line_id, func.coalesce(func.sum(model.amount_fen), 0))
        .where(model.line_id.in_(ids))
        .group_by(model.line_id)
    )
    return {int(k): int(v) for k, v in rows.all()}


async def figures(session: AsyncSession, lines: Sequence[BudgetLine]) -> dict[int, LineFigures]:
    ids = [line.id for line in lines]
    if not ids:
        return {}
    committed = await _sums(session, Commitment, ids)
    paid = await _sums(session, Payment, ids)
    held = await _sums(session, BudgetHold, ids)
    moved_in = dict(
        (
            await session.execute(
                select(BudgetAdjustment.to_line_id, func.sum(BudgetAdjustment.amount_fen))
                .where(BudgetAdjustment.to_line_id.in_(ids))
                .group_by(BudgetAdjustment.to_line_id)
            )
        ).all()
    )
    moved_out = dict(
        (
            await session.execute(
                select(BudgetAdjustment.from_line_id, func.sum(BudgetAdjustment.amount_fen))
                .where(BudgetAdjustment.from_line_id.in_(ids))
                .group_by(BudgetAdjustment.from_line_id)
            )
        ).all()
    )
    return {
        line.id: LineFigures(
            appropriation_fen=line.original_fen + int(moved_in.get(line.id) or 0) - int(moved_out.get(line.id) or 0),
            committed_fen=committed.get(line.id, 0),
            paid_fen=paid.get(line.id, 0),
            held_fen=held.get(line.id, 0),
        )
        for line in lines
    }


async def lock_lines(session: AsyncSession, line_ids: Iterable[int]) -> dict[int, BudgetLine]:
    """Lock lines in id order (a fixed order, so two transactions locking the same pair cannot deadlock)."""
    wanted = sorted(set(line_ids))
    rows = (
        await session.scalars(
            select(BudgetLine)
            .where(BudgetLine.id.in_(wanted))
            .order_by(BudgetLine.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).all()
    found = {line.id: line for line in rows}
    missing = [i for i in wanted if i not in found]
    if missing:
        raise NotFound(f"预算科目 {missing[0]} 不存在 (budget line not found)")
    return found


async def line_figures(session: AsyncSession, line: BudgetLine) -> LineFigures:
    return (await figures(session, [line]))[line.id]


async def commit(
    session: AsyncSession,
    line: BudgetLine,
    amount_fen: int,
    *,
    kind: str,
    memo: str,
    user_id: int | None,
    contract_id: int | None = None,
    allowance_run_id: int | None = None,
    procurement_id: int | None = None,
) -> Commitment:
    """Set budget aside on a locked line; a negative amount releases it (never below what is already paid)."""
    current = await line_figures(session, line)
    if amount_fen > current.available_fen:
        raise Conflict(
            f"预算科目“{line.name}”可用额度不足：需要 {yuan(amount_fen)}，可用 {yuan(current.available_fen)} "
            "(budget line lacks room)",
            line_id=line.id,
            available_fen=current.available_fen,
            requested_fen=amount_fen,
        )
    if amount_fen < 0 and -amount_fen > current.unpaid_commitment_fen:
        raise Conflict(
            f"释放额 {yuan(-amount_fen)} 超过未支付的承诺额 {yuan(current.unpaid_commitment_fen)} "
            "(cannot release more than is committed and unpaid)"
        )
    row = Commitment(
        line_id=line.id,
        kind=kind,
        amount_fen=amount_fen,
        memo=memo[:300],
        created_by=user_id,
        contract_id=contract_id,
        allowance_run_id=allowance_run_id,
        procurement_id=procurement_id,
    )
    session.add(row)
    await session.flush()
    await post(
        session,
        f"procurement:commitment:{row.id}",
        memo,
        [(account(line.id, "available"), -amount_fen), (account(line.id, "committed"), amount_fen)],
    )
    return row


async def pay(
    session: AsyncSession,
    line: BudgetLine,
    amount_fen: int,
    *,
    kind: str,
    memo: str,
    user_id: int | None,
    paid_on: dt.date | None = None,
    contract_id: int | None = None,
    milestone_id: int | None = None,
    allowance_run_id: int | None = None,
) -> Payment:
    """Pay out of a locked line; only what has been committed and not yet paid can be paid."""
    current = await line_figures(session, line)
    if amount_fen > current.unpaid_commitment_fen:
        raise Conflict(
            f"支付额 {yuan(amount_fen)} 超过预算科目“{line.name}”未支付的承诺额 {yuan(current.unpaid_commitment_fen)}"
            " (payment exceeds the unpaid commitment)"
        )
    on = paid_on or clock.today()
    row = Payment(
        line_id=line.id,
        kind=kind,
        amount_fen=amount_fen,
        paid_on=on,
        memo=memo[:300],
        created_by=user_id,
        contract_id=contract_id,
        milestone_id=milestone_id,
        allowance_run_id=allowance_run_id,
    )
    session.add(row)
    await session.flush()
    await post(
        session,
        f"procurement:payment:{row.id}",
        memo,
        [(account(line.id, "committed"), -amount_fen), (account(line.id, "paid"), amount_fen)],
        on,
    )
    return row


async def held_for(session: AsyncSession, procurement_id: int) -> int:
    """What a procurement holds now (its holds less their releases)."""
    total = await session.scalar(
        select(func.coalesce(func.sum(BudgetHold.amount_fen), 0)).where(BudgetHold.procurement_id == procurement_id)
    )
    return int(total or 0)


async def committed_for(session: AsyncSession, procurement_id: int) -> int:
    """What is committed on a procurement's account: its award, the signed contract's difference, releases."""
    total = await session.scalar(
        select(func.coalesce(func.sum(Commitment.amount_fen), 0)).where(Commitment.procurement_id == procurement_id)
    )
    return int(total or 0)


async def hold(
    session: AsyncSession, line: BudgetLine, amount_fen: int, *, procurement_id: int, memo: str, user_id: int | None
) -> BudgetHold:
    """Hold room on a locked line for a procurement (409 without room); a negative amount releases its hold."""
    if amount_fen > 0:
        current = await line_figures(session, line)
        if amount_fen > current.available_fen:
            raise Conflict(
                f"预算科目“{line.name}”可用额度不足：采购预算 {yuan(amount_fen)}，"
                f"可用 {yuan(current.available_fen)}（已承诺 {yuan(current.committed_fen)}，"
                f"其他采购占用 {yuan(current.held_fen)}）(budget line lacks room for the procurement)",
                line_id=line.id,
                available_fen=current.available_fen,
                requested_fen=amount_fen,
            )
    elif -amount_fen > await held_for(session, procurement_id):
        raise Conflict("释放额超过该采购项目占用的额度 (cannot release more than the procurement holds)")
    row = BudgetHold(
        line_id=line.id, procurement_id=procurement_id, amount_fen=amount_fen, memo=memo[:300], created_by=user_id
    )
    session.add(row)
    await session.flush()
    await post(
        session,
        f"procurement:hold:{row.id}",
        memo,
        [(account(line.id, "available"), -amount_fen), (account(line.id, "held"), amount_fen)],
    )
    return row


@dataclass(frozen=True)
class Movement:
    kind: str  # appropriation | adjustment_in | adjustment_out | hold | hold_release | commitment | release | payment
    amount_fen: int
    memo: str
    on: dt.date
    at: dt.datetime | None
    contract_id: int | None
    allowance_run_id: int | None
    document_no: str


async def movements(session: AsyncSession, line: BudgetLine) -> list[Movement]:
    """Every step that changed the line, oldest first: the trail behind its four figures."""
    out: list[Movement] = []
    adjustments = await session.scalars(
        select(BudgetAdjustment).where(
            (BudgetAdjustment.from_line_id == line.id) | (BudgetAdjustment.to_line_id == line.id)
        )
    )
    for a in adjustments:
        incoming = a.to_line_id == line.id
        out.append(
            Movement(
                "adjustment_in" if incoming else "adjustment_out",
                a.amount_fen if incoming else -a.amount_fen,
                a.reason,
                clock.local_date(a.created_at),
                a.created_at,
                None,
                None,
                a.document_no,
            )
        )
    for c in await session.scalars(select(Commitment).where(Commitment.line_id == line.id)):
        out.append(
            Movement(
                "commitment" if c.amount_fen > 0 else "release",
                c.amount_fen,
                c.memo,
                clock.local_date(c.created_at),
                c.created_at,
                c.contract_id,
                c.allowance_run_id,
                "",
            )
        )
    for h in await session.scalars(select(BudgetHold).where(BudgetHold.line_id == line.id)):
        out.append(
            Movement(
                "hold" if h.amount_fen > 0 else "hold_release",
                h.amount_fen,
                h.memo,
                clock.local_date(h.created_at),
                h.created_at,
                None,
                None,
                "",
            )
        )
    for p in await session.scalars(select(Payment).where(Payment.line_id == line.id)):
        out.append(
            Movement("payment", p.amount_fen, p.memo, p.paid_on, p.created_at, p.contract_id, p.allowance_run_id, "")
        )
    out.sort(key=lambda m: (m.at or dt.datetime.min.replace(tzinfo=dt.UTC), m.kind))
    return out
