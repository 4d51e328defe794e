"""Resolving a reconciliation difference: its kind, and the balancing ledger entry where the books were wrong.

The ledger is append-only, so a correction is a new entry, keyed ``reconciliation:<id>:<n>`` (so a repeat
posts nothing twice), with source ``reconciliation`` and a memo naming the reconciliation. Each kind says
what it posts (debit positive, credit negative; ``d`` = the other party's amount less ours):

- ``bank_fee`` (d < 0): fees expense +|d|, cash −|d|;
- ``amount_error`` (d ≠ 0): cash +d, income of the gift's purpose −d;
- ``missing_gift`` (bank only, a line we lack, d > 0): the gift is recorded as an offline bank transfer under
  the statement's reference (cash +d, income −d, a receipt), exactly as the offline path records one;
- ``refund`` (d < 0): a refund of the named gift under the statement's reference (income +|d|, cash −|d|);
- ``timing`` posts nothing: the difference clears itself on a later statement; the resolution is recorded.

Corrections of the first two kinds then count on our side of every later reconciliation, under the
difference's external id, so a re-run shows no difference; the other two become a donation or a refund,
which our side already counts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.audit import service as audit
from marketplace.auth.principal import Principal
from marketplace.errors import Conflict, Invalid
from marketplace.funds import accounts, ledger
from marketplace.funds import donations as gifts
from marketplace.funds.models import Donation, JournalEntry, Reconciliation, ReconciliationDifference
from marketplace.funds.reconciliation_models import ReconciliationCorrection
from marketplace.funds.service import get_fund

RESOLUTION_KINDS = {
    "bank_fee": "银行手续费",
    "amount_error": "金额差错（更正账目）",
    "missing_gift": "漏记来款（补记捐赠）",
    "refund": "退款（补记退款）",
    "timing": "时间性差异（不入账，下期自动抵消）",
}
# Kinds whose entry is a bare correction counted on our side under the difference's external id.
COUNTED = ("bank_fee", "amount_error")


@dataclass(frozen=True)
class Plan:
    kind: str
    label: str
    delta_fen: int
    postings: list[tuple[str, int]]
    description: str


@dataclass(frozen=True)
class Choice:
    kind: str
    note: str = ""
    occurred_on: dt.date | None = None
    purpose: str | None = None  # amount_error without a gift, missing_gift
    donor: str | None = None  # missing_gift
    donation_id: int | None = None  # refund when the difference names no gift


def delta(diff: ReconciliationDifference) -> int:
    """The other party's amount less ours, in fen."""
    return (diff.actual_fen or 0) - (diff.expected_fen or 0)


def _yuan(fen: int) -> str:
    return f"{fen / 100:,.2f} 元"


async def _gift(session: AsyncSession, fund_id: int, donation_id: int | None) -> Donation | None:
    if donation_id is None:
        return None
    donation = await session.get(Donation, donation_id)
    if donation is None or donation.fund_id != fund_id:
        raise Invalid.field("donation_id", f"本基金没有捐赠 #{donation_id} (no such donation in this fund)")
    return donation


async def plan(session: AsyncSession, recon: Reconciliation, diff: ReconciliationDifference, choice: Choice) -> Plan:
    """What resolving ``diff`` as ``choice.kind`` will post; 422 when the kind does not fit the difference."""
    kind = choice.kind
    if kind not in RESOLUTION_KINDS:
        raise Invalid.field("kind", f"处理方式应为 {'、'.join(RESOLUTION_KINDS)} (unknown resolution kind)")
    d = delta(diff)
    f = recon.fund_id
    label = RESOLUTION_KINDS[kind]
    if kind == "timing":
        return Plan(kind, label, d, [], "不入账：该差异待后续对账单自动抵消 (nothing is posted)")
    if d == 0:
        raise Invalid.field("kind", "金额一致的差异只能按时间性差异处理 (no amount to correct: use timing)")
    if kind == "bank_fee":
        if d > 0:
            raise Invalid.field("kind", f"银行比账面多 {_yuan(d)}，不是手续费 (the bank shows more, not a fee)")
        postings = [(accounts.fees(f), -d), (accounts.cash(f), d)]
        return Plan(kind, label, d, postings, f"记手续费 {_yuan(-d)}：借 手续费，贷 银行存款")
    if kind == "amount_error":
        gift = await _gift(session, f, diff.donation_id)
        purpose = gift.purpose if gift is not None else (choice.purpose or accounts.UNRESTRICTED)
        accounts.parse_purpose(purpose)
        postings = [(accounts.cash(f), d), (accounts.income(f, purpose), -d)]
        side = "调增" if d > 0 else "调减"
        return Plan(kind, label, d, postings, f"{side}银行存款与捐赠收入 {_yuan(abs(d))}（{purpose}）")
    if kind == "missing_gift":
        if recon.source != "bank" or diff.kind != "missing_here" or d <= 0 or not diff.external_id:
            raise Invalid.field(
                "kind", "只有银行对账单上有、账上没有的来款可补记为捐赠 (only a bank credit we lack is a missing gift)"
            )
        if choice.purpose and choice.purpose != accounts.UNRESTRICTED:
            raise Invalid.field(
                "purpose", "补记来款记为非定向，定向须经捐赠人同意后再改 (a missing gift is recorded unrestricted)"
            )
        purpose = accounts.UNRESTRICTED
        postings = [(accounts.cash(f), d), (accounts.income(f, purpose), -d)]
        return Plan(kind, label, d, postings, f"补记银行来款 {_yuan(d)}（流水号 {diff.external_id}）并开具收据")
    # refund
    if d > 0 or not diff.external_id:
        raise Invalid.field("kind", "只有银行少于账面的金额可补记为退款 (only money out can be a refund)")
    gift = await _gift(session, f, diff.donation_id or choice.donation_id)
    if gift is None:
        raise Invalid.field("donation_id", "补记退款须指明原捐赠 (name the donation refunded)")
    asset = accounts.cash(f)
    postings = [(accounts.income(f, gift.purpose), -d), (asset, d)]
    return Plan(kind, label, d, postings, f"补记捐赠 #{gift.id} 退款 {_yuan(-d)}（流水号 {diff.external_id}）")


def _occurred_on(recon: Reconciliation, choice: Choice) -> dt.date:
    on = choice.occurred_on or min(recon.until, clock.today())
    if not recon.since <= on <= recon.until:
        raise Invalid.field("occurred_on", "更正日期须在对账期间内 (occurred_on outside the period)")
    if on > clock.today():
        raise Invalid.field("occurred_on", "更正日期不能晚于今天 (occurred_on in the future)")
    return on


async def apply(
    session: AsyncSession,
    principal: Principal,
    recon: Reconciliation,
    diff: ReconciliationDifference,
    choice: Choice,
) -> ReconciliationCorrection:
    """Post the correction the kind calls for, record it, and mark the difference resolved (audited)."""
    if diff.resolved_at is not None:
        raise Conflict("该差异已处理 (difference already resolved)")
    the_plan = await plan(session, recon, diff, choice)
    on = _occurred_on(recon, choice)
    key = f"reconciliation:{recon.id}:{diff.n}"
    memo = f"对账 #{recon.id} 第 {diff.n} 条差异：{the_plan.label}（{diff.external_id or '无流水号'}）"
    entry_id: int | None = None
    donation_id = diff.donation_id
    if choice.kind in COUNTED:
        entry = await ledger.post_entry(
            session, idempotency_key=key, memo=memo, postings=the_plan.postings, occurred_on=on, source="reconciliation"
        )
        entry_id = entry.id
    elif choice.kind == "missing_gift":
        donation = await gifts.record_offline(
            session,
            principal,
            fund_id=recon.fund_id,
            amount_fen=the_plan.delta_fen,
            channel="bank_transfer",
            donor=gifts.DonorInput(name=(choice.donor or "").strip() or "未具名汇款人"),
            designation=None,
            received_on=on,
            reference=diff.external_id,
            note=memo[:500],
        )
        donation_id = donation.id
        entry_id = await _entry_by_key(session, f"offline:bank_transfer:{diff.external_id}")
    elif choice.kind == "refund":
        gift = await _gift(session, recon.fund_id, diff.donation_id or choice.donation_id)
        assert gift is not None and diff.external_id is not None  # checked by plan()
        # Locked and re-read before what is left is compared (found by tests/races: resolving several refunds of one
        # gift at once refunded it three times over on PostgreSQL). The one lock order: the fund, then the gift.
        await get_fund(session, recon.fund_id, lock=True)
        gift = await gifts.get_donation(session, gift.id, lock=True)
        await gifts.record_refund(session, gift, refund_id=diff.external_id, amount_fen=-the_plan.delta_fen, on=on)
        donation_id = gift.id
        entry_id = await _entry_by_key(session, f"refund:{gift.channel}:{diff.external_id}")
    correction = ReconciliationCorrection(
        reconciliation_id=recon.id,
        n=diff.n,
        fund_id=recon.fund_id,
        source=recon.source,
        kind=choice.kind,
        external_id=diff.external_id,
        amount_fen=the_plan.delta_fen,
        occurred_on=on,
        entry_id=entry_id,
        donation_id=donation_id,
        note=choice.note.strip()[:1000],
        created_by=principal.user_id,
    )
    try:
        # A savepoint: a concurrent resolve of the same difference loses on the unique (reconciliation, n).
        async with session.begin_nested():
            session.add(correction)
            await session.flush()
    except IntegrityError:
        raise Conflict("该差异已处理 (difference already resolved)") from None
    diff.resolved_at = clock.now()
    diff.resolved_by = principal.user_id
    diff.resolution_note = (choice.note.strip() or the_plan.label)[:1000]
    await session.flush()
    await audit.record(
        session,
        principal,
        "resolve",
        "reconciliation_difference",
        diff.id,
        ["resolution_kind"],
        {
            "reconciliation_id": recon.id,
            "n": diff.n,
            "kind": choice.kind,
            "amount_fen": the_plan.delta_fen,
            "entry_id": entry_id,
        },
    )
    return correction


async def _entry_by_key(session: AsyncSession, key: str) -> int | None:
    return await session.scalar(select(JournalEntry.id).where(JournalEntry.idempotency_key == key))


async def corrections_of(session: AsyncSession, recon_id: int) -> dict[int, ReconciliationCorrection]:
    return (await corrections_for(session, [recon_id])).get(recon_id, {})


async def corrections_for(
    session: AsyncSession, recon_ids: list[int]
) -> dict[int, dict[int, ReconciliationCorrection]]:
    """The corrections of several reconciliations in one query: reconciliation id -> n -> correction."""
    out: dict[int, dict[int, ReconciliationCorrection]] = {}
    if not recon_ids:
        return out
    rows = await session.scalars(
        select(ReconciliationCorrection).where(ReconciliationCorrection.reconciliation_id.in_(recon_ids))
    )
    for c in rows.all():
        out.setdefault(c.reconciliation_id, {})[c.n] = c
    return out


def outline(kind: str, d: int) -> str | None:
    """In words, what resolving a difference of ``d`` fen as ``kind`` posts; None when the kind cannot fit."""
    if kind == "timing":
        return "不入账，待下期对账单抵消"
    if d == 0:
        return None
    if kind == "bank_fee":
        return f"借 手续费 {_yuan(-d)} / 贷 银行存款" if d < 0 else None
    if kind == "amount_error":
        return f"{'借' if d > 0 else '贷'} 银行存款 {_yuan(abs(d))} / {'贷' if d > 0 else '借'} 捐赠收入"
    if kind == "missing_gift":
        return f"补记捐赠 {_yuan(d)}：借 银行存款 / 贷 非定向收入" if d > 0 else None
    if kind == "refund":
        return f"补记退款 {_yuan(-d)}：借 捐赠收入 / 贷 银行存款" if d < 0 else None
    return None
