"""Contracts: signing (which commits budget), milestones and their acceptance, instalments, amendments, evaluation."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from marketplace import clock, outbox
from marketplace.auth.principal import Principal
from marketplace.errors import Conflict, Invalid, NotFound
from marketplace.pagination import fetch_page
from marketplace.procurement import budget as ledger_side
from marketplace.procurement import metrics, readmodels
from marketplace.procurement.models import Contract, ContractAmendment, Milestone, Payment
from marketplace.procurement.readmodels import ContractCover as ContractCover
from marketplace.procurement.readmodels import ContractMoney as ContractMoney
from marketplace.procurement.readmodels import contracts_covering as contracts_covering
from marketplace.procurement.readmodels import money as money
from marketplace.procurement.rules import Finding, addon_cap_findings, check_contract_term, get_rules, yuan
from marketplace.procurement.schemas import (
    AcceptIn,
    AmendmentIn,
    ContractIn,
    ContractOut,
    EvaluationIn,
    PaymentIn,
    TerminationIn,
)
from marketplace.procurement.service import (
    PROCUREMENT_LIFECYCLE,
    addon_total,
    awarded_bid,
    get_procurement,
    raise_on_block,
    require_read,
    require_write,
)
from marketplace.statemachine import StateMachine, Transition

MILESTONE_KINDS = {"delivery": "交付", "reporting": "报告", "assessment": "评估", "payment": "付款"}
CONTRACT_STATUSES = {"active": "履约中", "completed": "已完成", "terminated": "已解除"}
CONTRACT_LIFECYCLE = StateMachine(
    "contract",
    CONTRACT_STATUSES,
    [
        Transition("accept_milestone", frozenset({"active"}), "active", "验收"),
        Transition("amend", frozenset({"active"}), "active", "变更金额"),
        Transition("evaluate", frozenset({"active"}), "completed", "绩效评价"),
        Transition("terminate", frozenset({"active"}), "terminated", "解除合同"),
        Transition("pay", frozenset({"active", "completed", "terminated"}), "active", "支付"),
    ],
)
# Milestones may fall due a little after the service period (the final assessment and report).
MILESTONE_GRACE_DAYS = 90


async def get_contract(session: AsyncSession, contract_id: int, *, lock: bool = False) -> Contract:
    stmt = select(Contract).where(Contract.id == contract_id).options(selectinload(Contract.milestones))
    if lock:
        stmt = stmt.with_for_update()
    found = await session.scalar(stmt)
    if found is None:
        raise NotFound(f"合同 {contract_id} 不存在 (contract not found)")
    return found


async def read_contract(session: AsyncSession, principal: Principal, contract_id: int) -> Contract:
    require_read(principal)
    return await get_contract(session, contract_id)


async def list_contracts(
    session: AsyncSession,
    principal: Principal,
    *,
    organization_id: int | None,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Contract], int]:
    require_read(principal)
    stmt = select(Contract)
    if organization_id:
        stmt = stmt.where(Contract.organization_id == organization_id)
    if status:
        stmt = stmt.where(Contract.status == status)
    return await fetch_page(
        session, stmt.options(selectinload(Contract.milestones)), Contract.id.desc(), limit=limit, offset=offset
    )


async def contract_page(
    session: AsyncSession,
    principal: Principal,
    *,
    organization_id: int | None,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[list[ContractOut], int]:
    rows, total = await list_contracts(
        session, principal, organization_id=organization_id, status=status, limit=limit, offset=offset
    )
    return await readmodels.contracts_out(session, rows), total


async def contract_money(session: AsyncSession, contract: Contract) -> ContractMoney:
    return (await money(session, [contract]))[contract.id]


# ---------------------------------------------------------------- signing


def _milestone_errors(data: ContractIn) -> list[dict[str, str]]:
    errors: list[dict[str, str]] = []
    latest = data.ends_on + dt.timedelta(days=MILESTONE_GRACE_DAYS)
    for i, m in enumerate(data.milestones):
        if m.kind not in MILESTONE_KINDS:
            errors.append({"field": f"milestones[{i}].kind", "message": "节点类型须为 " + ", ".join(MILESTONE_KINDS)})
        if not data.starts_on <= m.due_on <= latest:
            errors.append(
                {"field": f"milestones[{i}].due_on", "message": "节点日期须在合同期内 (due date outside term)"}
            )
        if m.target is not None and m.target.metric not in metrics.METRICS:
            errors.append(
                {
                    "field": f"milestones[{i}].target.metric",
                    "message": "未知考核指标，可选: " + ", ".join(metrics.METRICS),
                }
            )
    scheduled = sum(m.amount_fen for m in data.milestones)
    if scheduled > data.amount_fen:
        errors.append(
            {
                "field": "milestones",
                "message": f"各节点金额合计 {yuan(scheduled)} 超过合同金额 {yuan(data.amount_fen)}",
            }
        )
    return errors


async def create_contract(session: AsyncSession, principal: Principal, data: ContractIn) -> Contract:
    require_write(principal)
    errors: list[dict[str, str]] = []
    if data.ends_on < data.starts_on:
        errors.append({"field": "ends_on", "message": "结束日期早于开始日期 (ends before it starts)"})
    else:
        errors += _milestone_errors(data)
    today = clock.today()
    signed_on = data.signed_on or today
    if signed_on > today:
        errors.append({"field": "signed_on", "message": "签订日期不能晚于今天 (signing date in the future)"})
    if errors:
        raise Invalid("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)
    procurement = await get_procurement(session, data.procurement_id, lock=True)
    PROCUREMENT_LIFECYCLE.target(procurement.status, "sign")
    bid = await awarded_bid(session, procurement)
    assert bid is not None  # an awarded procurement always names its bid
    if bid.organization_id != data.organization_id:
        raise Invalid.field("organization_id", "合同相对方须为中标/成交供应商 (contract must be with the winner)")
    if data.amount_fen > bid.price_fen:
        raise Invalid.field(
            "amount_fen", f"合同金额不得超过中标/成交价 {yuan(bid.price_fen)} (amount above the winning price)"
        )
    rules = get_rules()
    findings: list[Finding] = list(check_contract_term(data.starts_on, data.ends_on, data.term_reason, rules))
    assert procurement.publicity_ends_on is not None and procurement.awarded_on is not None
    if signed_on <= procurement.publicity_ends_on:
        findings.append(
            Finding(
                "publicity_period",
                "block",
                f"中标/成交结果公示期至 {procurement.publicity_ends_on.isoformat()} 止，公示期满后方可签订合同",
            )
        )
    if procurement.original_contract_id is not None:
        original = await get_contract(session, procurement.original_contract_id)
        earlier = await addon_total(session, original.id) - procurement.estimated_fen
        findings += addon_cap_findings(original.amount_fen, earlier, data.amount_fen, rules)
    raise_on_block("合同不符合规定", findings)
    line = (await ledger_side.lock_lines(session, [procurement.budget_line_id]))[procurement.budget_line_id]
    contract = Contract(
        procurement_id=procurement.id,
        budget_line_id=line.id,
        organization_id=data.organization_id,
        title=data.title.strip() or procurement.title,
        amount_fen=data.amount_fen,
        starts_on=data.starts_on,
        ends_on=data.ends_on,
        signed_on=signed_on,
        term_reason=data.term_reason,
        status="active",
        created_by=principal.user_id,
    )
    session.add(contract)
    await session.flush()
    # The award committed the winning price on the procurement's account: signing commits (or releases) only the
    # difference to the contract's amount, so the line carries exactly the contract (a procurement awarded before
    # awards committed anything commits its whole amount here).
    difference = data.amount_fen - await ledger_side.committed_for(session, procurement.id)
    if difference:
        await ledger_side.commit(
            session,
            line,
            difference,
            kind="contract",
            memo=f"合同 {contract.id} {contract.title}",
            user_id=principal.user_id,
            contract_id=contract.id,
            procurement_id=procurement.id,
        )
    session.add_all(
        [
            Milestone(
                contract_id=contract.id,
                seq=i + 1,
                name=m.name.strip(),
                kind=m.kind,
                due_on=m.due_on,
                amount_fen=m.amount_fen,
                target_metric=m.target.metric if m.target else None,
                target_quantity=m.target.quantity if m.target else None,
                status="pending",
            )
            for i, m in enumerate(data.milestones)
        ]
    )
    procurement.status = "contracted"
    await session.flush()
    outbox.emit(session, "contract.signed", {"contract_id": contract.id})
    return await get_contract(session, contract.id)


# ---------------------------------------------------------------- milestones


def _milestone(contract: Contract, milestone_id: int) -> Milestone:
    for m in contract.milestones:
        if m.id == milestone_id:
            return m
    raise NotFound(f"合同 {contract.id} 没有节点 {milestone_id} (milestone not found)")


async def accept_milestone(
    session: AsyncSession, principal: Principal, contract_id: int, milestone_id: int, data: AcceptIn
) -> Contract:
    require_write(principal)
    contract = await get_contract(session, contract_id, lock=True)
    milestone = _milestone(contract, milestone_id)
    CONTRACT_LIFECYCLE.target(contract.status, "accept_milestone")
    if milestone.status == "accepted":
        raise Conflict("该节点已验收 (milestone already accepted)")
    today = clock.today()
    accepted_on = data.accepted_on or today
    if accepted_on > today or accepted_on < contract.starts_on:
        raise Invalid.field("accepted_on", "验收日期须在合同开始之后且不晚于今天")
    measured: int | None = None
    if milestone.target_metric is not None and milestone.target_quantity is not None:
        end = min(accepted_on, contract.ends_on)
        measured = await metrics.measure(
            session, milestone.target_metric, contract.organization_id, contract.starts_on, end
        )
        if measured is not None and measured < milestone.target_quantity and not data.shortfall_reason.strip():
            raise Invalid(
                f"考核指标未达标：{measured}/{milestone.target_quantity}，如确需验收请说明理由（shortfall_reason）",
                errors=[{"field": "shortfall_reason", "message": "未达标验收须说明理由"}],
                findings=[
                    Finding(
                        "target_not_met", "block", f"考核指标未达标：{measured}/{milestone.target_quantity}"
                    ).as_dict()
                ],
                measured=measured,
                target=milestone.target_quantity,
            )
    note = data.note
    if data.shortfall_reason.strip():
        note = (note + "\n" if note else "") + f"未达标验收理由：{data.shortfall_reason.strip()}"
    if milestone.target_metric is not None and measured is None:
        note = (note + "\n" if note else "") + "考核指标暂无法计量，按证明材料验收 (not measurable yet)"
    milestone.status = "accepted"
    milestone.accepted_on = accepted_on
    milestone.accepted_by = principal.user_id
    # Files uploaded for the milestone (with their checksums) stay on it; named documents are added beside them.
    uploaded = [e for e in milestone.evidence or [] if isinstance(e, dict) and e.get("sha256")]
    known = {(e.get("name"), e.get("url", "")) for e in uploaded}
    named = [{"name": d.name, "url": d.url} for d in data.evidence if (d.name, d.url) not in known]
    milestone.evidence = [*uploaded, *named]
    milestone.acceptance_note = note
    milestone.measured_quantity = measured
    await session.flush()
    outbox.emit(session, "contract.milestone_accepted", {"contract_id": contract.id, "milestone_id": milestone.id})
    return contract


# ---------------------------------------------------------------- payments


async def add_payment(session: AsyncSession, principal: Principal, contract_id: int, data: PaymentIn) -> Payment:
    require_write(principal)
    contract = await get_contract(session, contract_id)
    CONTRACT_LIFECYCLE.target(contract.status, "pay")
    milestone = _milestone(contract, data.milestone_id)
    today = clock.today()
    paid_on = data.paid_on or today
    if paid_on > today:
        raise Invalid.field("paid_on", "支付日期不能晚于今天 (payment date in the future)")
    # The line lock queues every payment and commitment on the line; the sums below are read after it.
    line = (await ledger_side.lock_lines(session, [contract.budget_line_id]))[contract.budget_line_id]
    if milestone.status != "accepted":
        raise Conflict(
            f"节点“{milestone.name}”尚未验收，不能支付 (pay only accepted milestones)", milestone_id=milestone.id
        )
    state = await contract_money(session, contract)
    paid_here = state.paid_by_milestone.get(milestone.id, 0)
    if paid_here + data.amount_fen > milestone.amount_fen:
        raise Conflict(
            f"节点“{milestone.name}”应付 {yuan(milestone.amount_fen)}，已付 {yuan(paid_here)}，"
            f"本次 {yuan(data.amount_fen)} 超出 (payment beyond the accepted milestone)",
            payable_fen=milestone.amount_fen - paid_here,
        )
    if state.paid_fen + data.amount_fen > state.amount_fen:
        raise Conflict(
            f"累计支付将超过合同金额 {yuan(state.amount_fen)} (payment beyond the contract amount)",
            payable_fen=state.amount_fen - state.paid_fen,
        )
    payment = await ledger_side.pay(
        session,
        line,
        data.amount_fen,
        kind="contract",
        memo=data.memo or f"合同 {contract.id} 节点 {milestone.seq} {milestone.name}",
        user_id=principal.user_id,
        paid_on=paid_on,
        contract_id=contract.id,
        milestone_id=milestone.id,
    )
    outbox.emit(session, "contract.paid", {"contract_id": contract.id, "payment_id": payment.id})
    return payment


async def payments_of(session: AsyncSession, contract_id: int) -> list[Payment]:
    rows = await session.scalars(select(Payment).where(Payment.contract_id == contract_id).order_by(Payment.id))
    return list(rows.all())


async def amendments_of(session: AsyncSession, contract_id: int) -> list[ContractAmendment]:
    rows = await session.scalars(
        select(ContractAmendment).where(ContractAmendment.contract_id == contract_id).order_by(ContractAmendment.id)
    )
    return list(rows.all())


# ---------------------------------------------------------------- amendments, evaluation, termination


async def amend(session: AsyncSession, principal: Principal, contract_id: int, data: AmendmentIn) -> ContractAmendment:
    require_write(principal)
    if data.delta_fen == 0:
        raise Invalid.field("delta_fen", "变更金额不能为 0")
    contract = await get_contract(session, contract_id, lock=True)
    CONTRACT_LIFECYCLE.target(contract.status, "amend")
    line = (await ledger_side.lock_lines(session, [contract.budget_line_id]))[contract.budget_line_id]
    if data.delta_fen > 0:
        # 政府采购法第四十九条: additions to a signed contract are at most 10% of the original amount.
        findings = addon_cap_findings(
            contract.amount_fen, await addon_total(session, contract.id), data.delta_fen, get_rules()
        )
        raise_on_block("合同追加金额超过上限", findings)
    else:
        state = await contract_money(session, contract)
        floor = max(state.paid_fen, state.accepted_fen)
        if state.amount_fen + data.delta_fen < floor:
            raise Conflict(
                f"核减后合同金额 {yuan(state.amount_fen + data.delta_fen)} 低于已验收或已支付金额 {yuan(floor)}",
                minimum_fen=floor,
            )
    row = ContractAmendment(
        contract_id=contract.id,
        delta_fen=data.delta_fen,
        reason=data.reason.strip(),
        document_no=data.document_no.strip(),
        created_by=principal.user_id,
    )
    session.add(row)
    await session.flush()
    await ledger_side.commit(
        session,
        line,
        data.delta_fen,
        kind="amendment",
        memo=f"合同 {contract.id} 变更 {row.id}: {row.reason}",
        user_id=principal.user_id,
        contract_id=contract.id,
    )
    outbox.emit(session, "contract.amended", {"contract_id": contract.id, "amendment_id": row.id})
    return row


async def evaluate(session: AsyncSession, principal: Principal, contract_id: int, data: EvaluationIn) -> Contract:
    require_write(principal)
    contract = await get_contract(session, contract_id, lock=True)
    target = CONTRACT_LIFECYCLE.target(contract.status, "evaluate")
    as_of = data.as_of or clock.today()
    if as_of > clock.today():
        raise Invalid.field("as_of", "评价日期不能晚于今天")
    all_accepted = all(m.status == "accepted" for m in contract.milestones)
    if as_of < contract.ends_on and not all_accepted:
        raise Conflict("合同期未满且仍有节点未验收，暂不能进行绩效评价 (evaluate at the end of the contract)")
    contract.status = target
    contract.evaluation_score = data.score
    contract.evaluation_comments = data.comments
    contract.evaluated_at = clock.now()
    return contract


async def terminate(session: AsyncSession, principal: Principal, contract_id: int, data: TerminationIn) -> Contract:
    """End a contract early (解除合同): what is neither paid nor owed for accepted work goes back to the line; the
    reason, the date it takes effect and who recorded it are kept. A completed or terminated contract is refused."""
    require_write(principal)
    reason = data.reason.strip()
    if not reason:
        raise Invalid.field("reason", "请填写解除合同的理由 (reason required)")
    contract = await get_contract(session, contract_id, lock=True)
    target = CONTRACT_LIFECYCLE.target(contract.status, "terminate")
    today = clock.today()
    on = data.terminated_on or today
    if on > today:
        raise Invalid.field("terminated_on", "解除日期不能晚于今天 (termination date in the future)")
    if on < contract.signed_on:
        raise Invalid.field(
            "terminated_on",
            f"解除日期不能早于合同签订日期 {contract.signed_on.isoformat()} (termination before signing)",
        )
    line = (await ledger_side.lock_lines(session, [contract.budget_line_id]))[contract.budget_line_id]
    state = await contract_money(session, contract)
    owed = sum(
        m.amount_fen - state.paid_by_milestone.get(m.id, 0) for m in contract.milestones if m.status == "accepted"
    )
    release = state.amount_fen - state.paid_fen - owed
    if release > 0:
        await ledger_side.commit(
            session,
            line,
            -release,
            kind="amendment",
            memo=f"合同 {contract.id} 解除: {reason}"[:300],
            user_id=principal.user_id,
            contract_id=contract.id,
        )
    contract.status = target
    contract.terminated_on = on
    contract.termination_reason = reason
    contract.terminated_by = principal.user_id
    outbox.emit(session, "contract.terminated", {"contract_id": contract.id, "released_fen": max(release, 0)})
    return contract
