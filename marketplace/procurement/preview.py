"""What the rules engine would say about a procurement before it is opened (the console shows it as it is typed).

The facts are gathered as ``service.create_procurement`` gathers them and judged by the same
``rules.check_procurement``; nothing is written.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.procurement import budget as ledger_side
from marketplace.procurement.models import Budget, BudgetAdjustment, BudgetLine, Contract
from marketplace.procurement.rules import (
    METHODS,
    SINGLE_SOURCE_GROUNDS,
    SUPPLIER_RULES,
    Finding,
    ProcurementFacts,
    SupplierFacts,
    check_procurement,
    get_rules,
    minimum_suppliers,
    publicity_end,
    single_source_notice_required,
)
from marketplace.procurement.service import _related_estimates, addon_total, require_read, require_write
from marketplace.resources.models import Organization


@dataclass(frozen=True)
class Threshold:
    label: str
    amount_fen: int
    crossed: bool
    consequence: str


@dataclass
class RulesPreview:
    method: str
    method_label: str
    estimated_fen: int
    required_method: str | None
    thresholds: list[Threshold]
    findings: list[Finding]
    # If awarded and announced today: the publicity period's last day, and the first day a contract may be signed.
    publicity_working_days: int
    publicity_ends_on: dt.date
    sign_from: dt.date
    minimum_suppliers: int
    holds_when: str
    line_name: str | None = None
    line_available_fen: int | None = None
    fits_line: bool | None = None
    notice_required: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def blocking(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "block"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warn"]

    @property
    def may_open(self) -> bool:
        return not self.blocking and not self.problems and self.fits_line is not False


async def preview(
    session: AsyncSession,
    principal: Principal,
    *,
    budget_line_id: int | None,
    method: str,
    estimated_fen: int,
    service_categories: list[str],
    justification: str = "",
    single_source_ground: str | None = None,
    original_contract_id: int | None = None,
) -> RulesPreview:
    require_write(principal)
    rules = get_rules()
    problems: list[str] = []
    line = await session.get(BudgetLine, budget_line_id) if budget_line_id else None
    original = await session.get(Contract, original_contract_id) if original_contract_id else None
    if original_contract_id and original is None:
        problems.append(f"原合同 {original_contract_id} 不存在")
    related: tuple[int, ...] = ()
    available: int | None = None
    if line is not None:
        budget = await session.get(Budget, line.budget_id)
        assert budget is not None
        categories = list(dict.fromkeys(service_categories))
        if categories:
            related = tuple(await _related_estimates(session, line.id, budget.fiscal_year, categories))
        available = (await ledger_side.line_figures(session, line)).available_fen
    elif budget_line_id:
        problems.append(f"预算科目 {budget_line_id} 不存在")
    facts = ProcurementFacts(
        method=method,
        estimated_fen=estimated_fen,
        justification=justification,
        single_source_ground=single_source_ground,
        original_contract_amount_fen=original.amount_fen if original else None,
        earlier_addons_fen=await addon_total(session, original.id) if original else 0,
        related_estimates_fen=related,
    )
    findings = check_procurement(facts, rules) if method in METHODS else []
    if method not in METHODS:
        problems.append("请选择采购方式")
    if single_source_ground is not None and single_source_ground not in SINGLE_SOURCE_GROUNDS:
        problems.append("未知单一来源情形")
    sole_supplier = method == "single_source" and single_source_ground == "art31_1_sole_supplier"
    open_required = estimated_fen >= rules.open_tender_threshold_fen and not sole_supplier
    thresholds = [
        Threshold(
            "政府采购限额标准",
            rules.centralised_threshold_fen,
            estimated_fen >= rules.centralised_threshold_fen,
            "须按政府采购程序组织实施并公告",
        ),
        Threshold(
            "公开招标数额标准",
            rules.open_tender_threshold_fen,
            estimated_fen >= rules.open_tender_threshold_fen,
            "必须采用公开招标" if not sole_supplier else "单一来源（唯一供应商）须先公示",
        ),
    ]
    today = clock.today()
    ends = publicity_end(today, rules)
    holds_when = (
        "新建即占用预算科目额度（公开招标无需采购方式审批）"
        if method == "open_tender"
        else "经区民政局审批采购方式后占用预算科目额度"
    )
    return RulesPreview(
        method=method,
        method_label=METHODS.get(method, "—"),
        estimated_fen=estimated_fen,
        required_method="open_tender" if open_required else None,
        thresholds=thresholds,
        findings=findings,
        publicity_working_days=rules.publicity_working_days,
        publicity_ends_on=ends,
        sign_from=ends + dt.timedelta(days=1),
        minimum_suppliers=minimum_suppliers(SupplierFacts(method, 0)) if method in SUPPLIER_RULES else 0,
        holds_when=holds_when,
        line_name=line.name if line is not None else None,
        line_available_fen=available,
        fits_line=(estimated_fen <= available) if available is not None and estimated_fen > 0 else None,
        notice_required=single_source_notice_required(method, single_source_ground, estimated_fen, rules),
        problems=problems,
    )


async def supplier_choices(session: AsyncSession, principal: Principal) -> list[tuple[int, str]]:
    """The organizations that may bid (approved into the pool), by name: what the bid form offers."""
    require_write(principal)
    rows = await session.execute(
        select(Organization.id, Organization.name).where(Organization.status == "approved").order_by(Organization.name)
    )
    return [(int(i), str(n)) for i, n in rows.all()]


async def adjustments_of(session: AsyncSession, principal: Principal, budget_id: int) -> list[BudgetAdjustment]:
    """A budget's adjustments between its lines, newest first (the budget page's list)."""
    require_read(principal, budget=True)
    rows = await session.scalars(
        select(BudgetAdjustment).where(BudgetAdjustment.budget_id == budget_id).order_by(BudgetAdjustment.id.desc())
    )
    return list(rows.all())


async def contract_of(session: AsyncSession, principal: Principal, procurement_id: int) -> int | None:
    """The id of the contract signed on a procurement, if any."""
    require_read(principal)
    found = await session.scalar(select(Contract.id).where(Contract.procurement_id == procurement_id))
    return int(found) if found is not None else None


async def line_label(session: AsyncSession, principal: Principal, line_id: int) -> tuple[int, str] | None:
    """A budget line's budget id and its label (``2026 专项资金 · 购买服务``)."""
    require_read(principal, budget=True)
    line = await session.get(BudgetLine, line_id)
    if line is None:
        return None
    budget = await session.get(Budget, line.budget_id)
    assert budget is not None
    return budget.id, f"{budget.fiscal_year} {budget.name} · {line.name}"
