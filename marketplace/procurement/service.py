"""Budgets, procurements, bids and awards. Contracts live in contracts.py; what the API shows, in readmodels.py."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from marketplace import clock, outbox
from marketplace.auth.principal import Principal
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.pagination import fetch_page
from marketplace.procurement import budget as ledger_side
from marketplace.procurement import readmodels
from marketplace.procurement.models import (
    Bid,
    Budget,
    BudgetAdjustment,
    BudgetLine,
    Contract,
    ContractAmendment,
    Procurement,
    ProcurementApproval,
)
from marketplace.procurement.readmodels import ContractCover as ContractCover
from marketplace.procurement.readmodels import RankedBid as RankedBid
from marketplace.procurement.readmodels import approvals_of as approvals_of
from marketplace.procurement.readmodels import contracts_covering as contracts_covering
from marketplace.procurement.rules import (
    METHODS,
    SINGLE_SOURCE_GROUNDS,
    SINGLE_SOURCE_NOTICE_WORKING_DAYS,
    Finding,
    ProcurementFacts,
    announcement_deadline,
    check_procurement,
    check_suppliers,
    get_rules,
    publicity_end,
    single_source_notice_end,
    single_source_notice_required,
    yuan,
)
from marketplace.procurement.schemas import (
    AdjustmentIn,
    ApprovalIn,
    AwardIn,
    BidIn,
    BudgetIn,
    BudgetOut,
    ProcurementIn,
    ProcurementOut,
    ReasonIn,
)
from marketplace.resources.models import Organization
from marketplace.resources.taxonomy import SERVICE_CATEGORIES
from marketplace.statemachine import StateMachine, Transition

WRITERS = frozenset({"procurement_officer"})
READERS = frozenset({"procurement_officer", "district_admin", "auditor"})
BUDGET_READERS = READERS | {"fund_manager"}

PROCUREMENT_STATUSES = {
    "bidding": "招标/采购中",
    "awarded": "已确定中标/成交",
    "contracted": "已签约",
    "cancelled": "已终止",
    "failed": "采购失败（废标/终止后重新采购）",
}
PROCUREMENT_LIFECYCLE = StateMachine(
    "procurement",
    PROCUREMENT_STATUSES,
    [
        Transition("bid", frozenset({"bidding"}), "bidding", "递交响应文件"),
        Transition("award", frozenset({"bidding"}), "awarded", "确定中标/成交供应商"),
        Transition("sign", frozenset({"awarded"}), "contracted", "签订合同"),
        Transition("cancel", frozenset({"bidding", "awarded"}), "cancelled", "终止采购"),
        Transition("fail", frozenset({"bidding"}), "failed", "采购失败（供应商不足等）"),
    ],
)


def require_write(principal: Principal) -> None:
    if principal.role not in WRITERS:
        raise Forbidden(f"仅采购经办人可办理此事项 (role {principal.role} may not change procurement records)")


def require_read(principal: Principal, *, budget: bool = False) -> None:
    allowed = BUDGET_READERS if budget else READERS
    if principal.role not in allowed:
        raise Forbidden(f"无权查看预算与采购信息 (role {principal.role} may not read procurement records)")


def blocked(detail: str, findings: Sequence[Finding]) -> Invalid:
    """A 422 problem that lists the rule findings (blocking and warning) so the client can show each."""
    blocking = [f for f in findings if f.severity == "block"]
    return Invalid(
        detail + "：" + "；".join(f.message for f in blocking),
        errors=[{"field": "rules", "message": f.message, "code": f.code} for f in blocking],
        findings=[f.as_dict() for f in findings],
    )


def raise_on_block(detail: str, findings: Sequence[Finding]) -> None:
    if any(f.severity == "block" for f in findings):
        raise blocked(detail, findings)


# ---------------------------------------------------------------- budgets


async def get_budget(session: AsyncSession, budget_id: int) -> Budget:
    found = await session.scalar(select(Budget).where(Budget.id == budget_id).options(selectinload(Budget.lines)))
    if found is None:
        raise NotFound(f"预算 {budget_id} 不存在 (budget not found)")
    return found


async def read_budget(session: AsyncSession, principal: Principal, budget_id: int) -> Budget:
    require_read(principal, budget=True)
    return await get_budget(session, budget_id)


async def list_budgets(
    session: AsyncSession, principal: Principal, *, fiscal_year: int | None, limit: int, offset: int
) -> tuple[list[Budget], int]:
    require_read(principal, budget=True)
    stmt = select(Budget)
    if fiscal_year is not None:
        stmt = stmt.where(Budget.fiscal_year == fiscal_year)
    return await fetch_page(
        session,
        stmt.options(selectinload(Budget.lines)),
        Budget.fiscal_year.desc(),
        Budget.id,
        limit=limit,
        offset=offset,
    )


async def budget_page(
    session: AsyncSession, principal: Principal, *, fiscal_year: int | None, limit: int, offset: int
) -> tuple[list[BudgetOut], int]:
    rows, total = await list_budgets(session, principal, fiscal_year=fiscal_year, limit=limit, offset=offset)
    return await readmodels.budgets_out(session, rows), total


async def create_budget(session: AsyncSession, principal: Principal, data: BudgetIn) -> Budget:
    require_write(principal)
    errors: list[dict[str, Any]] = []
    codes = [line.code for line in data.lines]
    for i, code in enumerate(codes):
        if codes.index(code) != i:
            errors.append({"field": f"lines[{i}].code", "message": f"科目代码 {code} 重复 (duplicate line code)"})
    allocated = sum(line.appropriation_fen for line in data.lines)
    if allocated != data.total_fen:
        errors.append(
            {
                "field": "total_fen",
                "message": f"各科目合计 {allocated} 分与预算总额 {data.total_fen} 分不符 (lines must add up to the total)",
            }
        )
    if errors:
        raise Invalid("; ".join(e["message"] for e in errors), errors=errors)
    clash = await session.scalar(
        select(Budget.id).where(Budget.fiscal_year == data.fiscal_year, Budget.name == data.name.strip())
    )
    if clash is not None:
        raise Conflict("同一财年已有同名预算 (a budget with this name exists for the year)", existing_id=clash)
    created = Budget(
        name=data.name.strip(), fiscal_year=data.fiscal_year, total_fen=data.total_fen, created_by=principal.user_id
    )
    session.add(created)
    await session.flush()
    lines = [
        BudgetLine(budget_id=created.id, code=line.code, name=line.name.strip(), original_fen=line.appropriation_fen)
        for line in data.lines
    ]
    session.add_all(lines)
    await session.flush()
    postings = [(ledger_side.account(line.id, "available"), line.original_fen) for line in lines if line.original_fen]
    if postings:
        postings.append((f"budget:{created.id}:appropriation", -data.total_fen))
        await ledger_side.post(session, f"procurement:budget:{created.id}:appropriation", created.name, postings)
    outbox.emit(session, "budget.created", {"budget_id": created.id})
    return await get_budget(session, created.id)


async def adjust_budget(
    session: AsyncSession, principal: Principal, budget_id: int, data: AdjustmentIn
) -> BudgetAdjustment:
    require_write(principal)
    await get_budget(session, budget_id)
    if data.from_line_id == data.to_line_id:
        raise Invalid.field("to_line_id", "调出与调入科目不能相同 (from and to lines must differ)")
    lines = await ledger_side.lock_lines(session, [data.from_line_id, data.to_line_id])
    if any(line.budget_id != budget_id for line in lines.values()):
        raise Invalid.field("from_line_id", "科目不属于该预算 (line belongs to another budget)")
    source = lines[data.from_line_id]
    available = (await ledger_side.line_figures(session, source)).available_fen
    if data.amount_fen > available:
        raise Conflict(
            f"调出科目“{source.name}”可用额度不足 (the source line lacks room)",
            available_fen=available,
            requested_fen=data.amount_fen,
        )
    row = BudgetAdjustment(
        budget_id=budget_id,
        from_line_id=data.from_line_id,
        to_line_id=data.to_line_id,
        amount_fen=data.amount_fen,
        document_no=data.document_no.strip(),
        reason=data.reason,
        created_by=principal.user_id,
    )
    session.add(row)
    await session.flush()
    await ledger_side.post(
        session,
        f"procurement:adjustment:{row.id}",
        f"预算调剂 {row.document_no}",
        [
            (ledger_side.account(data.from_line_id, "available"), -data.amount_fen),
            (ledger_side.account(data.to_line_id, "available"), data.amount_fen),
        ],
    )
    return row


async def read_line(session: AsyncSession, principal: Principal, budget_id: int, line_id: int) -> BudgetLine:
    require_read(principal, budget=True)
    line = await session.get(BudgetLine, line_id)
    if line is None or line.budget_id != budget_id:
        raise NotFound(f"预算科目 {line_id} 不存在 (budget line not found)")
    return line


# ---------------------------------------------------------------- procurements


async def get_procurement(session: AsyncSession, procurement_id: int, *, lock: bool = False) -> Procurement:
    stmt = select(Procurement).where(Procurement.id == procurement_id)
    if lock:
        stmt = stmt.with_for_update()
    found = await session.scalar(stmt)
    if found is None:
        raise NotFound(f"采购项目 {procurement_id} 不存在 (procurement not found)")
    return found


async def read_procurement(session: AsyncSession, principal: Principal, procurement_id: int) -> Procurement:
    require_read(principal)
    return await get_procurement(session, procurement_id)


async def list_procurements(
    session: AsyncSession,
    principal: Principal,
    *,
    status: str | None,
    budget_line_id: int | None,
    fiscal_year: int | None,
    limit: int,
    offset: int,
) -> tuple[list[Procurement], int]:
    require_read(principal)
    stmt = select(Procurement)
    if status:
        stmt = stmt.where(Procurement.status == status)
    if budget_line_id:
        stmt = stmt.where(Procurement.budget_line_id == budget_line_id)
    if fiscal_year:
        stmt = stmt.where(Procurement.fiscal_year == fiscal_year)
    return await fetch_page(session, stmt, Procurement.id.desc(), limit=limit, offset=offset)


async def procurement_page(
    session: AsyncSession,
    principal: Principal,
    *,
    status: str | None,
    budget_line_id: int | None,
    fiscal_year: int | None,
    limit: int,
    offset: int,
) -> tuple[list[ProcurementOut], int]:
    rows, total = await list_procurements(
        session,
        principal,
        status=status,
        budget_line_id=budget_line_id,
        fiscal_year=fiscal_year,
        limit=limit,
        offset=offset,
    )
    return await readmodels.procurements_out(session, rows), total


async def addon_total(session: AsyncSession, contract_id: int) -> int:
    """What has been added to a contract so far: positive amendments plus add-on procurements' contracts."""
    amended = await session.scalar(
        select(func.coalesce(func.sum(ContractAmendment.delta_fen), 0)).where(
            ContractAmendment.contract_id == contract_id, ContractAmendment.delta_fen > 0
        )
    )
    addon_contracts = await session.scalar(
        select(func.coalesce(func.sum(Contract.amount_fen), 0))
        .join(Procurement, Procurement.id == Contract.procurement_id)
        .where(Procurement.original_contract_id == contract_id)
    )
    # Add-on procurements not yet signed hold their estimate against the cap too.
    pending = await session.scalar(
        select(func.coalesce(func.sum(Procurement.estimated_fen), 0)).where(
            Procurement.original_contract_id == contract_id, Procurement.status.in_(("bidding", "awarded"))
        )
    )
    return int(amended or 0) + int(addon_contracts or 0) + int(pending or 0)


async def _related_estimates(session: AsyncSession, line_id: int, fiscal_year: int, categories: list[str]) -> list[int]:
    rows = await session.execute(
        select(Procurement.estimated_fen, Procurement.service_categories).where(
            Procurement.budget_line_id == line_id,
            Procurement.fiscal_year == fiscal_year,
            Procurement.status != "cancelled",
        )
    )
    wanted = set(categories)
    return [int(fen) for fen, cats in rows.all() if wanted & set(cats or [])]


async def create_procurement(session: AsyncSession, principal: Principal, data: ProcurementIn) -> Procurement:
    require_write(principal)
    errors: list[dict[str, Any]] = []
    if data.method not in METHODS:
        errors.append({"field": "method", "message": f"未知采购方式 '{data.method}'，可选: " + ", ".join(METHODS)})
    for i, code in enumerate(data.service_categories):
        if code not in SERVICE_CATEGORIES:
            errors.append({"field": f"service_categories[{i}]", "message": f"未知服务类别 '{code}'"})
    if data.single_source_ground is not None and data.single_source_ground not in SINGLE_SOURCE_GROUNDS:
        errors.append(
            {
                "field": "single_source_ground",
                "message": "未知单一来源情形，可选: " + ", ".join(SINGLE_SOURCE_GROUNDS),
            }
        )
    if data.notice_published_on is not None and data.notice_published_on > clock.today():
        errors.append({"field": "notice_published_on", "message": "公示日期不能晚于今天 (notice date in the future)"})
    if errors:
        raise Invalid("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)
    line = await session.get(BudgetLine, data.budget_line_id)
    if line is None:
        raise Invalid.field("budget_line_id", f"预算科目 {data.budget_line_id} 不存在 (unknown budget line)")
    if data.replaces_procurement_id is not None:
        replaced = await session.get(Procurement, data.replaces_procurement_id)
        if replaced is None or replaced.status not in ("failed", "cancelled"):
            raise Invalid.field(
                "replaces_procurement_id",
                f"被替代的采购项目 {data.replaces_procurement_id} 不存在或未终止/失败 "
                "(only a failed or cancelled procurement can be replaced)",
            )
    budget = await get_budget(session, line.budget_id)
    original: Contract | None = None
    if data.original_contract_id is not None:
        original = await session.get(Contract, data.original_contract_id)
        if original is None:
            raise Invalid.field("original_contract_id", f"原合同 {data.original_contract_id} 不存在")
    categories = list(dict.fromkeys(data.service_categories))
    facts = ProcurementFacts(
        method=data.method,
        estimated_fen=data.estimated_fen,
        justification=data.justification,
        single_source_ground=data.single_source_ground,
        original_contract_amount_fen=original.amount_fen if original else None,
        earlier_addons_fen=await addon_total(session, original.id) if original else 0,
        related_estimates_fen=tuple(await _related_estimates(session, line.id, budget.fiscal_year, categories)),
    )
    rules = get_rules()
    findings = check_procurement(facts, rules)
    raise_on_block("采购方式不符合规定", findings)
    notice_needed = single_source_notice_required(data.method, data.single_source_ground, data.estimated_fen, rules)
    if notice_needed and data.notice_published_on is None:
        raise Invalid.field(
            "notice_published_on",
            f"达到公开招标数额标准的单一来源采购（第三十一条第一项）须先公示不少于 {SINGLE_SOURCE_NOTICE_WORKING_DAYS} "
            "个工作日，请填写公示日期（财政部令第74号第三十八条）(single-source notice date required)",
        )
    # The line is locked while its room is read, so the check and the open tender's hold are one step.
    line = (await ledger_side.lock_lines(session, [line.id]))[line.id]
    room = (await ledger_side.line_figures(session, line)).available_fen
    if data.estimated_fen > room:
        raise Conflict(
            f"采购预算 {yuan(data.estimated_fen)} 超过预算科目“{line.name}”未承诺的可用额度 {yuan(room)}，"
            "不能开展采购 (the procurement does not fit the budget line's uncommitted room)",
            line_id=line.id,
            available_fen=room,
            requested_fen=data.estimated_fen,
        )
    created = Procurement(
        budget_line_id=line.id,
        fiscal_year=budget.fiscal_year,
        title=data.title.strip(),
        method=data.method,
        estimated_fen=data.estimated_fen,
        service_categories=categories,
        justification=data.justification,
        single_source_ground=data.single_source_ground if data.method == "single_source" else None,
        original_contract_id=original.id if original else None,
        replaces_procurement_id=data.replaces_procurement_id,
        notice_published_on=data.notice_published_on if data.method == "single_source" else None,
        status="bidding",
        findings=[f.as_dict() for f in findings],
        created_by=principal.user_id,
    )
    session.add(created)
    await session.flush()
    if created.method == "open_tender":
        # An open tender needs no method approval: opening it is its approval, and it holds its room from then on.
        await ledger_side.hold(
            session,
            line,
            created.estimated_fen,
            procurement_id=created.id,
            memo=f"采购项目 {created.id} {created.title} 占用额度",
            user_id=principal.user_id,
        )
    outbox.emit(session, "procurement.created", {"procurement_id": created.id})
    return created


async def approve_procurement(
    session: AsyncSession, principal: Principal, procurement_id: int, data: ApprovalIn
) -> Procurement:
    principal.require("district_admin")
    procurement = await get_procurement(session, procurement_id, lock=True)
    if procurement.method == "open_tender":
        raise Conflict("公开招标无需采购方式审批 (open tenders need no method approval)")
    if procurement.status != "bidding":
        raise Conflict(
            f"{PROCUREMENT_STATUSES.get(procurement.status, procurement.status)}的项目不能再审批 (already decided)"
        )
    today = clock.today()
    approved_on = data.approved_on or today
    if approved_on > today:
        raise Invalid.field("approved_on", "审批日期不能晚于今天 (approval date in the future)")
    if procurement.notice_published_on is not None:
        notice_end = single_source_notice_end(procurement.notice_published_on, get_rules())
        if approved_on <= notice_end:
            raise Invalid.field(
                "approved_on",
                f"单一来源采购公示期（{procurement.notice_published_on.isoformat()} 起 "
                f"{SINGLE_SOURCE_NOTICE_WORKING_DAYS} 个工作日）至 {notice_end.isoformat()} 止，"
                "公示期满后方可审批（财政部令第74号第三十八条）(approval inside the single-source notice period)",
            )
    session.add(
        ProcurementApproval(
            procurement_id=procurement.id,
            document_no=data.document_no.strip(),
            note=data.note,
            approved_on=approved_on,
            approved_by=principal.user_id,
        )
    )
    await session.flush()
    if await ledger_side.held_for(session, procurement.id) == 0:
        # The approval holds the procurement's estimate on its line (locked: concurrent approvals queue here).
        line = (await ledger_side.lock_lines(session, [procurement.budget_line_id]))[procurement.budget_line_id]
        await ledger_side.hold(
            session,
            line,
            procurement.estimated_fen,
            procurement_id=procurement.id,
            memo=f"采购项目 {procurement.id} {procurement.title} 经审批占用额度",
            user_id=principal.user_id,
        )
    return procurement


async def release_all(session: AsyncSession, procurement: Procurement, user_id: int | None, why: str) -> None:
    """Give back to the line whatever the procurement holds or has committed (it has no contract yet)."""
    held = await ledger_side.held_for(session, procurement.id)
    committed = await ledger_side.committed_for(session, procurement.id)
    if not held and not committed:
        return
    line = (await ledger_side.lock_lines(session, [procurement.budget_line_id]))[procurement.budget_line_id]
    memo = f"采购项目 {procurement.id} {why}，释放额度"
    if held:
        await ledger_side.hold(session, line, -held, procurement_id=procurement.id, memo=memo, user_id=user_id)
    if committed:
        await ledger_side.commit(
            session, line, -committed, kind="procurement", memo=memo, user_id=user_id, procurement_id=procurement.id
        )


async def _end(
    session: AsyncSession, principal: Principal, procurement_id: int, transition: str, reason: str
) -> Procurement:
    require_write(principal)
    procurement = await get_procurement(session, procurement_id, lock=True)
    target = PROCUREMENT_LIFECYCLE.target(procurement.status, transition)
    await release_all(session, procurement, principal.user_id, PROCUREMENT_STATUSES[target])
    procurement.status = target
    procurement.ended_on = clock.today()
    procurement.end_reason = reason.strip()
    outbox.emit(session, "procurement.ended", {"procurement_id": procurement.id})
    return procurement


async def cancel_procurement(
    session: AsyncSession, principal: Principal, procurement_id: int, reason: str = ""
) -> Procurement:
    return await _end(session, principal, procurement_id, "cancel", reason)


async def fail_procurement(
    session: AsyncSession, principal: Principal, procurement_id: int, data: ReasonIn
) -> Procurement:
    """The procurement failed (废标, or ended for want of suppliers): its room goes back to the line; a new
    procurement may name it in ``replaces_procurement_id``."""
    return await _end(session, principal, procurement_id, "fail", data.reason)


# ---------------------------------------------------------------- bids and evaluation


async def bids_of(session: AsyncSession, procurement: Procurement) -> list[RankedBid]:
    return (await readmodels.ranked_bids(session, [procurement]))[procurement.id]


async def add_bid(session: AsyncSession, principal: Principal, procurement_id: int, data: BidIn) -> Bid:
    require_write(principal)
    procurement = await get_procurement(session, procurement_id, lock=True)
    PROCUREMENT_LIFECYCLE.target(procurement.status, "bid")
    org = await session.get(Organization, data.organization_id)
    if org is None:
        raise Invalid.field("organization_id", f"社会组织 {data.organization_id} 不存在")
    if org.status != "approved":
        raise Invalid.field("organization_id", "该组织尚未审核入库，不能参与采购 (organization not approved)")
    existing = await session.scalar(
        select(Bid.id).where(Bid.procurement_id == procurement.id, Bid.organization_id == org.id)
    )
    if existing is not None:
        raise Conflict("该组织已递交响应文件 (this organization has already bid)", bid_id=existing)
    if procurement.method == "single_source":
        other = await session.scalar(select(Bid.id).where(Bid.procurement_id == procurement.id))
        if other is not None:
            raise Conflict("单一来源采购只能有一个供应商 (single source takes one supplier)")
    bid = Bid(
        procurement_id=procurement.id,
        organization_id=org.id,
        price_fen=data.price_fen,
        technical_score=data.technical_score,
        documents=[{"name": d.name, "url": d.url} for d in data.documents],
    )
    session.add(bid)
    await session.flush()
    return bid


async def award(session: AsyncSession, principal: Principal, procurement_id: int, data: AwardIn) -> Procurement:
    require_write(principal)
    procurement = await get_procurement(session, procurement_id, lock=True)
    PROCUREMENT_LIFECYCLE.target(procurement.status, "award")
    rules = get_rules()
    today = clock.today()
    awarded_on = data.awarded_on or today
    if awarded_on > today:
        raise Invalid.field("awarded_on", "确定中标日期不能晚于今天 (award date in the future)")
    announced_on = data.announced_on or awarded_on
    deadline = announcement_deadline(awarded_on, rules)
    if not awarded_on <= announced_on <= min(deadline, today):
        raise Invalid.field(
            "announced_on",
            f"中标/成交结果应自确定之日起 2 个工作日内公告（{awarded_on.isoformat()} 至 {deadline.isoformat()}），"
            "且不晚于今天（财政部令第87号第六十九条）(announcement date out of order)",
        )
    approvals = (await approvals_of(session, [procurement.id]))[procurement.id]
    if approvals:
        approved_on = max(a.approved_on for a in approvals)
        if awarded_on < approved_on:
            raise Invalid.field(
                "awarded_on",
                f"确定中标/成交日期 {awarded_on.isoformat()} 早于采购方式审批日期 {approved_on.isoformat()}，"
                "审批前不得确定成交供应商，公示期亦不能早于审批 (award dated before its approval)",
            )
    ranked = await bids_of(session, procurement)
    if not ranked:
        raise Conflict("尚无供应商递交响应文件，不能确定中标 (no bids)")
    chosen = ranked[0]
    if data.bid_id is not None:
        match = [r for r in ranked if r.bid.id == data.bid_id]
        if not match:
            raise Invalid.field("bid_id", f"响应文件 {data.bid_id} 不属于该项目")
        chosen = match[0]
    findings: list[Finding] = []
    if chosen.rank != 1:
        findings.append(
            Finding(
                "award_not_top_ranked",
                "block",
                f"应按评审排名确定第一名为中标/成交供应商，所选供应商排名第 {chosen.rank}",
            )
        )
    if procurement.method != "open_tender" and not approvals:
        findings.append(
            Finding(
                "approval_required",
                "block",
                f"{METHODS[procurement.method]}尚未取得区民政局审批，不能确定成交供应商",
            )
        )
    if procurement.original_contract_id is not None:
        original = await session.get(Contract, procurement.original_contract_id)
        if original is not None and original.organization_id != chosen.bid.organization_id:
            findings.append(Finding("addon_same_supplier", "block", "添购只能向原合同供应商采购（第三十一条第三项）"))
    raise_on_block("不能确定中标/成交供应商", findings)
    after_failure = await readmodels.after_failed_tender(session, [procurement])
    suppliers = check_suppliers(readmodels.supplier_facts(procurement, len(ranked), after_failure))
    if any(f.severity == "block" for f in suppliers):
        raise Conflict(
            "供应商数量不符合规定，不能确定中标/成交供应商：" + "；".join(f.message for f in suppliers),
            errors=[{"field": "bids", "message": f.message, "code": f.code} for f in suppliers],
            findings=[f.as_dict() for f in suppliers],
        )
    # The hold becomes the commitment of the winning price; the rest of the estimate goes back to the line.
    line = (await ledger_side.lock_lines(session, [procurement.budget_line_id]))[procurement.budget_line_id]
    held = await ledger_side.held_for(session, procurement.id)
    memo = f"采购项目 {procurement.id} {procurement.title} 确定中标/成交"
    if held:
        await ledger_side.hold(
            session, line, -held, procurement_id=procurement.id, memo=memo, user_id=principal.user_id
        )
    await ledger_side.commit(
        session,
        line,
        chosen.bid.price_fen,
        kind="award",
        memo=f"{memo}，中标/成交价",
        user_id=principal.user_id,
        procurement_id=procurement.id,
    )
    procurement.findings = [*procurement.findings, *(f.as_dict() for f in suppliers)]
    procurement.status = "awarded"
    procurement.awarded_bid_id = chosen.bid.id
    procurement.awarded_on = awarded_on
    procurement.announced_on = announced_on
    procurement.publicity_ends_on = publicity_end(announced_on, rules)
    outbox.emit(session, "procurement.awarded", {"procurement_id": procurement.id, "bid_id": chosen.bid.id})
    return procurement


async def awarded_bid(session: AsyncSession, procurement: Procurement) -> Bid | None:
    if procurement.awarded_bid_id is None:
        return None
    return await session.get(Bid, procurement.awarded_bid_id)
