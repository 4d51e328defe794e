"""Read models: budgets, procurements and contracts as the API shows them.

Each function takes the rows of a page (or one row) and returns the response objects with everything they show —
figures, bids and their ranking, approvals, money, milestone progress — in a fixed number of queries (IN-batched
selects and aggregates) whatever the number of rows. Access checks stay with the callers in service.py and
contracts.py; nothing here writes.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from marketplace import clock
from marketplace.procurement import budget as ledger_side
from marketplace.procurement import metrics
from marketplace.procurement.models import (
    Bid,
    Budget,
    BudgetHold,
    Commitment,
    Contract,
    ContractAmendment,
    Milestone,
    Payment,
    Procurement,
    ProcurementApproval,
)
from marketplace.procurement.rules import (
    EVALUATION,
    METHODS,
    Score,
    SupplierFacts,
    centi,
    get_rules,
    minimum_suppliers,
    score_bid,
)
from marketplace.procurement.schemas import (
    AmendmentOut,
    ApprovalOut,
    BidOut,
    BudgetLineOut,
    BudgetOut,
    ContractOut,
    Finding,
    MilestoneOut,
    PaymentOut,
    ProcurementOut,
    Progress,
)
from marketplace.resources.models import Organization

# ---------------------------------------------------------------- budgets


def line_out(line_id: int, code: str, name: str, original: int, f: ledger_side.LineFigures) -> BudgetLineOut:
    return BudgetLineOut(
        id=line_id,
        code=code,
        name=name,
        original_fen=original,
        appropriation_fen=f.appropriation_fen,
        committed_fen=f.committed_fen,
        paid_fen=f.paid_fen,
        available_fen=f.available_fen,
        execution_rate_bp=f.execution_bp,
        execution_rate=ledger_side.rate_text(f.execution_bp),
        held_fen=f.held_fen,
    )


async def budgets_out(session: AsyncSession, budgets: Sequence[Budget]) -> list[BudgetOut]:
    """Budgets loaded with their lines; the lines' figures come from one batch of sums for the whole page."""
    figs = await ledger_side.figures(session, [line for b in budgets for line in b.lines])
    out = []
    for budget in budgets:
        mine = [figs[line.id] for line in budget.lines]
        total = ledger_side.LineFigures(
            appropriation_fen=sum(f.appropriation_fen for f in mine),
            committed_fen=sum(f.committed_fen for f in mine),
            paid_fen=sum(f.paid_fen for f in mine),
            held_fen=sum(f.held_fen for f in mine),
        )
        out.append(
            BudgetOut(
                id=budget.id,
                name=budget.name,
                fiscal_year=budget.fiscal_year,
                total_fen=budget.total_fen,
                appropriation_fen=total.appropriation_fen,
                committed_fen=total.committed_fen,
                paid_fen=total.paid_fen,
                available_fen=total.available_fen,
                execution_rate_bp=total.execution_bp,
                execution_rate=ledger_side.rate_text(total.execution_bp),
                lines=[line_out(ln.id, ln.code, ln.name, ln.original_fen, figs[ln.id]) for ln in budget.lines],
                created_at=budget.created_at,
                held_fen=total.held_fen,
            )
        )
    return out


# ---------------------------------------------------------------- procurements


@dataclass(frozen=True)
class RankedBid:
    bid: Bid
    organization_name: str
    score: Score
    rank: int


def rank_bids(method: str, pairs: Sequence[tuple[Bid, str]]) -> list[RankedBid]:
    """One procurement's bids in evaluation order: comprehensive scoring or lowest price, per the method."""
    if not pairs:
        return []
    rules = get_rules()
    lowest = min(b.price_fen for b, _ in pairs)
    scored = [(b, name, score_bid(b.price_fen, b.technical_score, lowest, rules)) for b, name in pairs]
    if EVALUATION[method] == "comprehensive":
        scored.sort(key=lambda t: (-t[2].total_centi, t[0].price_fen, t[0].id))
    else:
        scored.sort(key=lambda t: (t[0].price_fen, -t[0].technical_score, t[0].id))
    return [RankedBid(b, name, s, i + 1) for i, (b, name, s) in enumerate(scored)]


async def ranked_bids(session: AsyncSession, procurements: Sequence[Procurement]) -> dict[int, list[RankedBid]]:
    ids = [p.id for p in procurements]
    pairs: dict[int, list[tuple[Bid, str]]] = {i: [] for i in ids}
    if ids:
        rows = await session.execute(
            select(Bid, Organization.name)
            .join(Organization, Organization.id == Bid.organization_id)
            .where(Bid.procurement_id.in_(ids))
            .order_by(Bid.id)
        )
        for bid, name in rows.all():
            pairs[bid.procurement_id].append((bid, name))
    return {p.id: rank_bids(p.method, pairs[p.id]) for p in procurements}


async def approvals_of(session: AsyncSession, procurement_ids: Sequence[int]) -> dict[int, list[ProcurementApproval]]:
    out: dict[int, list[ProcurementApproval]] = {i: [] for i in procurement_ids}
    if procurement_ids:
        rows = await session.scalars(
            select(ProcurementApproval)
            .where(ProcurementApproval.procurement_id.in_(procurement_ids))
            .order_by(ProcurementApproval.id)
        )
        for row in rows:
            out[row.procurement_id].append(row)
    return out


async def after_failed_tender(session: AsyncSession, procurements: Sequence[Procurement]) -> set[int]:
    """The procurements opened after an open tender that failed with exactly two suppliers (财政部令第74号
    第二十七条第二款): a 竞争性谈判 may then go on with those two."""
    replaced = {p.id: p.replaces_procurement_id for p in procurements if p.replaces_procurement_id is not None}
    if not replaced:
        return set()
    failed = {
        pid
        for pid, count in (
            await session.execute(
                select(Procurement.id, func.count(Bid.id))
                .join(Bid, Bid.procurement_id == Procurement.id)
                .where(
                    Procurement.id.in_(sorted(set(replaced.values()))),
                    Procurement.method == "open_tender",
                    Procurement.status == "failed",
                )
                .group_by(Procurement.id)
            )
        ).all()
        if count == 2
    }
    return {pid for pid, old in replaced.items() if old in failed}


def supplier_facts(p: Procurement, suppliers: int, after_failure: set[int]) -> SupplierFacts:
    return SupplierFacts(method=p.method, suppliers=suppliers, after_failed_tender=p.id in after_failure)


async def procurement_money(session: AsyncSession, ids: Sequence[int]) -> tuple[dict[int, int], dict[int, int]]:
    """What each procurement holds and has committed on its line now."""
    if not ids:
        return {}, {}
    held = dict(
        (
            await session.execute(
                select(BudgetHold.procurement_id, func.sum(BudgetHold.amount_fen))
                .where(BudgetHold.procurement_id.in_(ids))
                .group_by(BudgetHold.procurement_id)
            )
        ).all()
    )
    committed = dict(
        (
            await session.execute(
                select(Commitment.procurement_id, func.sum(Commitment.amount_fen))
                .where(Commitment.procurement_id.in_(ids))
                .group_by(Commitment.procurement_id)
            )
        ).all()
    )
    return {int(k): int(v) for k, v in held.items()}, {int(k): int(v) for k, v in committed.items() if k is not None}


def _findings(rows: Sequence[dict[str, Any]]) -> list[Finding]:
    return [Finding(code=f["code"], severity=f["severity"], message=f["message"]) for f in rows]


async def procurements_out(session: AsyncSession, procurements: Sequence[Procurement]) -> list[ProcurementOut]:
    approvals = await approvals_of(session, [p.id for p in procurements])
    bids = await ranked_bids(session, procurements)
    held, committed = await procurement_money(session, [p.id for p in procurements])
    after_failure = await after_failed_tender(session, procurements)
    return [
        ProcurementOut(
            id=p.id,
            budget_line_id=p.budget_line_id,
            fiscal_year=p.fiscal_year,
            title=p.title,
            method=p.method,
            method_label=METHODS.get(p.method, p.method),
            evaluation=EVALUATION.get(p.method, ""),
            estimated_fen=p.estimated_fen,
            service_categories=list(p.service_categories),
            justification=p.justification,
            single_source_ground=p.single_source_ground,
            original_contract_id=p.original_contract_id,
            status=p.status,
            findings=_findings(p.findings),
            approvals=[
                ApprovalOut(
                    id=a.id,
                    document_no=a.document_no,
                    note=a.note,
                    approved_by=a.approved_by,
                    created_at=a.created_at,
                    approved_on=a.approved_on,
                )
                for a in approvals[p.id]
            ],
            bids=[
                BidOut(
                    id=r.bid.id,
                    organization_id=r.bid.organization_id,
                    organization_name=r.organization_name,
                    price_fen=r.bid.price_fen,
                    technical_score=r.bid.technical_score,
                    price_score=centi(r.score.price_centi),
                    technical_weighted_score=centi(r.score.technical_centi),
                    total_score=centi(r.score.total_centi),
                    rank=r.rank,
                    documents=list(r.bid.documents),
                )
                for r in bids[p.id]
            ],
            awarded_bid_id=p.awarded_bid_id,
            awarded_on=p.awarded_on,
            publicity_ends_on=p.publicity_ends_on,
            created_at=p.created_at,
            announced_on=p.announced_on,
            replaces_procurement_id=p.replaces_procurement_id,
            notice_published_on=p.notice_published_on,
            ended_on=p.ended_on,
            end_reason=p.end_reason,
            held_fen=held.get(p.id, 0),
            committed_fen=committed.get(p.id, 0),
            minimum_suppliers=minimum_suppliers(supplier_facts(p, len(bids[p.id]), after_failure)),
        )
        for p in procurements
    ]


# ---------------------------------------------------------------- contracts: money


@dataclass(frozen=True)
class ContractMoney:
    amount_fen: int  # as signed plus amendments
    paid_fen: int
    accepted_fen: int
    paid_by_milestone: dict[int, int]

    @property
    def remaining_fen(self) -> int:
        return self.amount_fen - self.paid_fen


def _money(contract: Contract, delta_fen: int, paid_by_milestone: dict[int, int]) -> ContractMoney:
    return ContractMoney(
        amount_fen=contract.amount_fen + delta_fen,
        paid_fen=sum(paid_by_milestone.values()),
        accepted_fen=sum(m.amount_fen for m in contract.milestones if m.status == "accepted"),
        paid_by_milestone=paid_by_milestone,
    )


async def money(session: AsyncSession, contracts: Sequence[Contract]) -> dict[int, ContractMoney]:
    """Contracts loaded with their milestones: amounts after amendments, paid (per milestone) and accepted."""
    ids = [c.id for c in contracts]
    if not ids:
        return {}
    deltas = dict(
        (
            await session.execute(
                select(ContractAmendment.contract_id, func.sum(ContractAmendment.delta_fen))
                .where(ContractAmendment.contract_id.in_(ids))
                .group_by(ContractAmendment.contract_id)
            )
        ).all()
    )
    paid_rows = await session.execute(
        select(Payment.contract_id, Payment.milestone_id, func.sum(Payment.amount_fen))
        .where(Payment.contract_id.in_(ids))
        .group_by(Payment.contract_id, Payment.milestone_id)
    )
    paid: dict[int, dict[int, int]] = defaultdict(dict)
    for contract_id, milestone_id, total in paid_rows.all():
        if contract_id is not None and milestone_id is not None:
            paid[contract_id][milestone_id] = int(total)
    return {c.id: _money(c, int(deltas.get(c.id) or 0), paid.get(c.id, {})) for c in contracts}


# ---------------------------------------------------------------- contracts: milestone progress


@dataclass(frozen=True)
class MilestoneProgress:
    metric: str
    label: str
    target: int
    measured: int | None

    @property
    def note(self) -> str:
        if self.measured is None:
            return "暂无法计量：数据来源尚未启用 (not measurable yet)"
        return f"已完成 {self.measured}/{self.target}"


async def progress_of(session: AsyncSession, contracts: Sequence[Contract]) -> dict[int, MilestoneProgress]:
    """Progress of every milestone with a target, by milestone id: accepted ones as measured when accepted, the
    others measured now from the contract's start (one query per metric for the whole page)."""
    today = clock.today()
    pending: dict[str, list[tuple[Milestone, metrics.Window]]] = defaultdict(list)
    out: dict[int, MilestoneProgress] = {}
    for contract in contracts:
        for m in contract.milestones:
            if m.target_metric is None or m.target_quantity is None:
                continue
            if m.status == "accepted":
                out[m.id] = _progress(m, m.measured_quantity)
            else:
                end = min(m.accepted_on or today, contract.ends_on)
                pending[m.target_metric].append((m, metrics.Window(contract.organization_id, contract.starts_on, end)))
    for code, items in pending.items():
        counts = await metrics.measure_many(session, code, [w for _, w in items])
        for (m, _), measured in zip(items, counts, strict=True):
            out[m.id] = _progress(m, measured)
    return out


def _progress(m: Milestone, measured: int | None) -> MilestoneProgress:
    assert m.target_metric is not None and m.target_quantity is not None
    metric = metrics.METRICS.get(m.target_metric)
    label = metric.label if metric else m.target_metric
    return MilestoneProgress(m.target_metric, label, m.target_quantity, measured)


# ---------------------------------------------------------------- contracts: the response


def payment_out(p: Payment) -> PaymentOut:
    return PaymentOut(
        id=p.id,
        contract_id=p.contract_id,
        milestone_id=p.milestone_id,
        amount_fen=p.amount_fen,
        paid_on=p.paid_on,
        memo=p.memo,
        created_at=p.created_at,
    )


def _milestone_out(m: Milestone, paid_fen: int, prog: MilestoneProgress | None) -> MilestoneOut:
    return MilestoneOut(
        id=m.id,
        seq=m.seq,
        name=m.name,
        kind=m.kind,
        due_on=m.due_on,
        amount_fen=m.amount_fen,
        paid_fen=paid_fen,
        status=m.status,
        accepted_on=m.accepted_on,
        evidence=list(m.evidence),
        acceptance_note=m.acceptance_note,
        progress=Progress(
            metric=prog.metric,
            label=prog.label,
            target=prog.target,
            measured=prog.measured,
            measurable=prog.measured is not None,
            note=prog.note,
        )
        if prog
        else None,
    )


async def contracts_out(session: AsyncSession, contracts: Sequence[Contract]) -> list[ContractOut]:
    """Contracts loaded with their milestones, with their supplier, findings, amendments, payments, money and
    milestone progress."""
    if not contracts:
        return []
    ids = [c.id for c in contracts]
    names = dict(
        (
            await session.execute(
                select(Organization.id, Organization.name).where(
                    Organization.id.in_(sorted({c.organization_id for c in contracts}))
                )
            )
        ).all()
    )
    findings: dict[int, list[dict[str, Any]]] = dict(
        (
            await session.execute(
                select(Procurement.id, Procurement.findings).where(
                    Procurement.id.in_(sorted({c.procurement_id for c in contracts}))
                )
            )
        ).all()
    )
    amendments: dict[int, list[ContractAmendment]] = defaultdict(list)
    for a in await session.scalars(
        select(ContractAmendment).where(ContractAmendment.contract_id.in_(ids)).order_by(ContractAmendment.id)
    ):
        amendments[a.contract_id].append(a)
    payments: dict[int, list[Payment]] = defaultdict(list)
    for p in await session.scalars(select(Payment).where(Payment.contract_id.in_(ids)).order_by(Payment.id)):
        if p.contract_id is not None:
            payments[p.contract_id].append(p)
    progress = await progress_of(session, contracts)
    out = []
    for c in contracts:
        paid_by_milestone: dict[int, int] = defaultdict(int)
        for p in payments[c.id]:
            if p.milestone_id is not None:
                paid_by_milestone[p.milestone_id] += p.amount_fen
        state = _money(c, sum(a.delta_fen for a in amendments[c.id]), dict(paid_by_milestone))
        out.append(
            ContractOut(
                id=c.id,
                procurement_id=c.procurement_id,
                budget_line_id=c.budget_line_id,
                organization_id=c.organization_id,
                organization_name=names.get(c.organization_id, ""),
                title=c.title,
                original_amount_fen=c.amount_fen,
                amount_fen=state.amount_fen,
                paid_fen=state.paid_fen,
                remaining_fen=state.remaining_fen,
                accepted_fen=state.accepted_fen,
                starts_on=c.starts_on,
                ends_on=c.ends_on,
                signed_on=c.signed_on,
                term_reason=c.term_reason,
                status=c.status,
                milestones=[
                    _milestone_out(m, state.paid_by_milestone.get(m.id, 0), progress.get(m.id)) for m in c.milestones
                ],
                amendments=[
                    AmendmentOut(
                        id=a.id,
                        delta_fen=a.delta_fen,
                        reason=a.reason,
                        document_no=a.document_no,
                        created_at=a.created_at,
                    )
                    for a in amendments[c.id]
                ],
                payments=[payment_out(p) for p in payments[c.id]],
                evaluation_score=c.evaluation_score,
                evaluation_comments=c.evaluation_comments,
                findings=_findings(findings.get(c.procurement_id) or []),
                created_at=c.created_at,
                terminated_on=c.terminated_on,
                termination_reason=c.termination_reason,
            )
        )
    return out


# ---------------------------------------------------------------- contracts: for matching


@dataclass(frozen=True)
class ContractCover:
    """What matching needs to know about a contract that can pay for a service."""

    id: int
    procurement_id: int
    organization_id: int
    title: str
    service_categories: list[str]
    starts_on: dt.date
    ends_on: dt.date
    amount_fen: int
    remaining_fen: int
    contract: Contract


async def contracts_covering(
    session: AsyncSession, *, organization_id: int, category: str, on: dt.date
) -> list[ContractCover]:
    """Active contracts with the organization whose procurement covers the category on that day (for matching)."""
    rows = await session.execute(
        select(Contract, Procurement.service_categories)
        .join(Procurement, Procurement.id == Contract.procurement_id)
        .where(
            Contract.organization_id == organization_id,
            Contract.status == "active",
            Contract.starts_on <= on,
            Contract.ends_on >= on,
        )
        .options(selectinload(Contract.milestones))
        .order_by(Contract.ends_on, Contract.id)
    )
    chosen = [(c, list(cats or [])) for c, cats in rows.all() if category in (cats or [])]
    state = await money(session, [c for c, _ in chosen])
    return [
        ContractCover(
            id=c.id,
            procurement_id=c.procurement_id,
            organization_id=c.organization_id,
            title=c.title,
            service_categories=cats,
            starts_on=c.starts_on,
            ends_on=c.ends_on,
            amount_fen=state[c.id].amount_fen,
            remaining_fen=state[c.id].remaining_fen,
            contract=c,
        )
        for c, cats in chosen
    ]
