"""Demo data: the 380万元 special budget, two procurements carried to contract, milestones, payments, allowances."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.demo import futian_data
from marketplace.procurement import allowance_demo, contracts, festival_demo, service
from marketplace.procurement.schemas import (
    AcceptIn,
    ApprovalIn,
    AwardIn,
    BidIn,
    BudgetIn,
    BudgetLineIn,
    ContractIn,
    Document,
    MilestoneIn,
    PaymentIn,
    ProcurementIn,
    ReasonIn,
    TargetIn,
)
from marketplace.resources.models import Organization, Service, ServiceCategory

ORDER = 50
log = logging.getLogger("marketplace.demo")


def _budget_input() -> BudgetIn:
    lines = [(b.code, b.name, b.amount_fen) for b in futian_data.BUDGET_2026]
    year, name = futian_data.BUDGET_YEAR, futian_data.BUDGET_NAME
    return BudgetIn(
        name=name,
        fiscal_year=year,
        total_fen=sum(a for _, _, a in lines),
        lines=[BudgetLineIn(code=c, name=n, appropriation_fen=a) for c, n, a in lines],
    )


async def _providers(session: AsyncSession, ids: list[int], categories: tuple[str, ...], n: int) -> list[int]:
    """Approved organizations that list a service in the categories, best matches first, padded with others."""
    if not ids:
        return []
    fit = list(
        (
            await session.scalars(
                select(Service.organization_id)
                .join(ServiceCategory, ServiceCategory.service_id == Service.id)
                .join(Organization, Organization.id == Service.organization_id)
                .where(
                    ServiceCategory.code.in_(categories),
                    Organization.status == "approved",
                    Organization.id.in_(ids),
                )
                .distinct()
            )
        ).all()
    )
    approved = list(
        (
            await session.scalars(
                select(Organization.id)
                .where(Organization.id.in_(ids), Organization.status == "approved")
                .order_by(Organization.id)
            )
        ).all()
    )
    ordered = list(dict.fromkeys(sorted(fit) + approved))
    return ordered[:n]


def _line(budget_lines: list[Any], *codes: str) -> int:
    for code in codes:
        for line in budget_lines:
            if line.code == code:
                return int(line.id)
    return int(budget_lines[0].id)


async def load(session: AsyncSession, ctx: dict[str, Any]) -> None:
    users: dict[str, int] = ctx.get("users", {})
    officer = Principal(user_id=users.get("procurement", 0), username="procurement", role="procurement_officer")
    admin = Principal(user_id=users.get("admin", 0), username="admin", role="district_admin")
    budget = await service.create_budget(session, officer, _budget_input())
    ctx["budget_id"] = budget.id
    services_line = _line(budget.lines, "purchase_services", "purchase_of_services")
    orgs: list[int] = list(ctx.get("organizations", []))
    hotline_orgs = await _providers(session, orgs, ("hotline", "verification_visits"), 3)
    psych_orgs = await _providers(session, orgs, ("psych_counselling", "emotional_support"), 2)
    # An open tender needs three bidders (政府采购法第三十六条), 竞争性磋商 for services two (财库〔2015〕124号).
    if len(hotline_orgs) < 3 or len(psych_orgs) < 2 or not users.get("admin"):
        log.info("procurement demo: not enough approved organizations or users; budget only")
        return
    today = clock.today()
    # Dates keep their distance from today, so the demo always shows a contract part-way through.
    award_day = today - dt.timedelta(days=260)

    hotline = await service.create_procurement(
        session,
        officer,
        ProcurementIn(
            budget_line_id=services_line,
            title="福田区12355青少年服务热线运行及困境儿童走访核查服务",
            method="open_tender",
            estimated_fen=96_000_000,
            service_categories=["hotline", "verification_visits", "home_visits"],
        ),
    )
    for org_id, price, tech in zip(hotline_orgs, (93_500_000, 89_800_000, 95_000_000), (92, 81, 85), strict=False):
        await service.add_bid(
            session,
            officer,
            hotline.id,
            BidIn(
                organization_id=org_id,
                price_fen=price,
                technical_score=tech,
                documents=[Document(name="投标文件（技术部分）.pdf"), Document(name="报价一览表.pdf")],
            ),
        )
    await service.award(session, officer, hotline.id, AwardIn(awarded_on=award_day))
    winner = await service.awarded_bid(session, hotline)
    assert winner is not None
    starts = award_day + dt.timedelta(days=20)
    hotline_contract = await contracts.create_contract(
        session,
        officer,
        ContractIn(
            procurement_id=hotline.id,
            organization_id=winner.organization_id,
            amount_fen=winner.price_fen,
            starts_on=starts,
            ends_on=starts + dt.timedelta(days=364),
            signed_on=award_day + dt.timedelta(days=15),
            title="12355热线运行及走访核查服务合同",
            milestones=[
                MilestoneIn(
                    name="热线开通及首季度服务报告",
                    due_on=starts + dt.timedelta(days=90),
                    amount_fen=winner.price_fen * 30 // 100,
                    kind="delivery",
                ),
                MilestoneIn(
                    name="半年服务报告",
                    due_on=starts + dt.timedelta(days=180),
                    amount_fen=winner.price_fen * 30 // 100,
                    kind="reporting",
                ),
                MilestoneIn(
                    name="走访核查任务（入户核查）",
                    due_on=starts + dt.timedelta(days=270),
                    amount_fen=winner.price_fen * 20 // 100,
                    kind="delivery",
                    target=TargetIn(metric="home_visits", quantity=300),
                ),
                MilestoneIn(
                    name="年度绩效评估及尾款",
                    due_on=starts + dt.timedelta(days=364),
                    amount_fen=winner.price_fen - winner.price_fen * 80 // 100,
                    kind="assessment",
                ),
            ],
        ),
    )
    for index, days in ((0, 95), (1, 185)):
        milestone = hotline_contract.milestones[index]
        await contracts.accept_milestone(
            session,
            officer,
            hotline_contract.id,
            milestone.id,
            AcceptIn(
                evidence=[Document(name=f"{milestone.name}.pdf"), Document(name="热线接听记录汇总.xlsx")],
                note="资料齐全，服务记录可核查",
                accepted_on=starts + dt.timedelta(days=days),
            ),
        )
        await contracts.add_payment(
            session,
            officer,
            hotline_contract.id,
            PaymentIn(
                milestone_id=milestone.id,
                amount_fen=milestone.amount_fen,
                paid_on=starts + dt.timedelta(days=days + 10),
            ),
        )

    psych = await service.create_procurement(
        session,
        officer,
        ProcurementIn(
            budget_line_id=services_line,
            title="福田区困境儿童心理健康服务项目",
            method="competitive_consultation",
            estimated_fen=45_000_000,
            service_categories=["psych_counselling", "emotional_support"],
            justification="心理服务专业性强，需与供应商就服务方案多轮磋商，采用竞争性磋商方式",
        ),
    )
    psych_award = award_day + dt.timedelta(days=30)
    # Approved before it is awarded (an award may not be dated before its approval).
    await service.approve_procurement(
        session,
        admin,
        psych.id,
        ApprovalIn(
            document_no="福民儿福〔2026〕12号",
            note="同意采用竞争性磋商",
            approved_on=psych_award - dt.timedelta(days=14),
        ),
    )
    for org_id, price, tech in zip(psych_orgs, (43_800_000, 41_200_000), (90, 78), strict=False):
        await service.add_bid(
            session, officer, psych.id, BidIn(organization_id=org_id, price_fen=price, technical_score=tech)
        )
    await service.award(session, officer, psych.id, AwardIn(awarded_on=psych_award))
    psych_winner = await service.awarded_bid(session, psych)
    assert psych_winner is not None
    p_starts = psych_award + dt.timedelta(days=15)
    psych_contract = await contracts.create_contract(
        session,
        officer,
        ContractIn(
            procurement_id=psych.id,
            organization_id=psych_winner.organization_id,
            amount_fen=psych_winner.price_fen,
            starts_on=p_starts,
            ends_on=p_starts + dt.timedelta(days=364),
            signed_on=psych_award + dt.timedelta(days=10),
            title="困境儿童心理健康服务合同",
            milestones=[
                MilestoneIn(
                    name="服务方案及首期心理评估",
                    due_on=p_starts + dt.timedelta(days=60),
                    amount_fen=psych_winner.price_fen * 40 // 100,
                    kind="delivery",
                ),
                MilestoneIn(
                    name="个案辅导（完成转介服务）",
                    due_on=p_starts + dt.timedelta(days=240),
                    amount_fen=psych_winner.price_fen * 40 // 100,
                    kind="delivery",
                    target=TargetIn(metric="completed_referrals", quantity=40),
                ),
                MilestoneIn(
                    name="末期评估",
                    due_on=p_starts + dt.timedelta(days=364),
                    amount_fen=psych_winner.price_fen - psych_winner.price_fen * 80 // 100,
                    kind="assessment",
                ),
            ],
        ),
    )
    first = psych_contract.milestones[0]
    await contracts.accept_milestone(
        session,
        officer,
        psych_contract.id,
        first.id,
        AcceptIn(evidence=[Document(name="心理评估报告汇总.pdf")], accepted_on=p_starts + dt.timedelta(days=62)),
    )
    await contracts.add_payment(
        session,
        officer,
        psych_contract.id,
        PaymentIn(milestone_id=first.id, amount_fen=first.amount_fen // 2, paid_on=p_starts + dt.timedelta(days=70)),
    )
    await _failed_training(session, officer, _line(budget.lines, "training"), hotline_orgs[:2])
    await allowance_demo.load(session, ctx, officer, budget.fiscal_year, budget.id)
    await festival_demo.load(session, ctx, officer, budget.fiscal_year)


async def _failed_training(session: AsyncSession, officer: Principal, line_id: int, bidders: list[int]) -> None:
    """An open tender with two bidders: it fails (废标, 政府采购法第三十六条) and gives its room back to the line."""
    training = await service.create_procurement(
        session,
        officer,
        ProcurementIn(
            budget_line_id=line_id,
            title="福田区儿童主任业务能力提升培训项目",
            method="open_tender",
            estimated_fen=1_800_000,
            service_categories=["director_training"],
        ),
    )
    for org_id, price in zip(bidders, (1_750_000, 1_690_000), strict=False):
        await service.add_bid(
            session, officer, training.id, BidIn(organization_id=org_id, price_fen=price, technical_score=80)
        )
    await service.fail_procurement(
        session, officer, training.id, ReasonIn(reason="投标截止时投标人不足3家，依法废标，拟重新组织采购")
    )
