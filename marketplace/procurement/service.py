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
    Finding,
    ProcurementFacts,
    check_procurement,
    get_rules,
    publicity_end,
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
}
PROCUREMENT_LIFECYCLE = StateMachine(
    "procurement",
    PROCUREMENT_STATUSES,
    [
        Transition("bid", frozenset({"bidding"}), "bidding", "递交响应文件"),
        Transition("award", frozenset({"bidding"}), "awarded", "确定中标/成交供应商"),
        Transition("sign", frozenset({"awarded"}), "contracted", "签订合同"),
        Transition("cancel", frozenset({"bidding", "awarded"}), "cancelled", "终止采购"),
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
    if errors:
        raise Invalid("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)
    line = await session.get(BudgetLine, data.budget_line_id)
    if line is None:
        raise Invalid.field("budget_line_id", f"预算科目 {data.budget_line_id} 不存在 (unknown budget line)")
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
    findings = check_procurement(facts, get_rules())
    raise_on_block("采购方式不符合规定", findings)
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
        status="bidding",
        findings=[f.as_dict() for f in findings],
        created_by=principal.user_id,
    )
    session.add(created)
    await session.flush()
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
    session.add(
        ProcurementApproval(
            procurement_id=procurement.id,
            document_no=data.document_no.strip(),
            note=data.note,
            approved_by=principal.user_id,
        )
    )
    await session.flush()
    return procurement


async def cancel_procurement(session: AsyncSession, principal: Principal, procurement_id: int) -> Procurement:
    require_write(principal)
    procurement = await get_procurement(session, procurement_id, lock=True)
    procurement.status = PROCUREMENT_LIFECYCLE.target(procurement.status, "cancel")
    return procurement


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
    today = clock.today()
    awarded_on = data.awarded_on or today
    if awarded_on > today:
        raise Invalid.field("awarded_on", "确定中标日期不能晚于今天 (award date in the future)")
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
    if procurement.method != "open_tender":
        approved = (await approvals_of(session, [procurement.id]))[procurement.id]
        if not approved:
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
    procurement.status = "awarded"
    procurement.awarded_bid_id = chosen.bid.id
    procurement.awarded_on = awarded_on
    procurement.publicity_ends_on = publicity_end(awarded_on, get_rules())
    outbox.emit(session, "procurement.awarded", {"procurement_id": procurement.id, "bid_id": chosen.bid.id})
    return procurement


async def awarded_bid(session: AsyncSession, procurement: Procurement) -> Bid | None:
    if procurement.awarded_bid_id is None:
        return None
    return await session.get(Bid, procurement.awarded_bid_id)
