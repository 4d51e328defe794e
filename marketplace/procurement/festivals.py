"""Festival condolences (节日慰问): the festival calendar, a yearly plan per festival and the runs made from it.

A plan (``FestivalPlan``) is set by the district admin or the procurement officer: the pay date, the budget line of
the year it charges (the year's festival line, e.g. Futian's 10,000 yuan 节日慰问 line) and the amount per child
category, in fen; a category absent is not paid. It is edited in place until its first run is prepared; after that
only a new version changes it (the old one kept, ``current`` NULL, the new one naming it in ``supersedes_id``).

Running a plan prepares an ordinary one-off allowance run (kind festival; ``allowance_oneoff.write``: the line
locked, checked and committed, the sign-off / bank file / pay flow unchanged). Who is paid:

- eligibility stays the one-off runs': a living-allowance grant in force in the pay month with a payee;
- the child's categories are the grant's category together with the categories on the child's file
  (``children.categories``). The grant's category alone would never let "a child in several categories" happen: the
  grant names the one category it was approved for, while the file records every circumstance the director has
  evidence of (an orphan who is also disabled), and a grant's category must be on the file (``eligibility``), so
  the file never loses it. The child gets the highest of its categories' amounts, once; the payment records which;
- nobody is paid twice for one festival of a year: each payment carries the plan's ``festival_key`` with
  ``festival_live`` true, unique per person (``allowance_payments``: a database constraint, whatever the plan's
  version or the run), and the plan's row is locked while its run is prepared, so a second run at the same time
  waits and then finds nobody new. A run withdrawn (or failed) gives its children back: its payments'
  ``festival_live`` is cleared under that lock before the next run of the festival is prepared.

Running a plan again after its run pays only the children not yet paid for the festival (a 补发, its title marked
so); with nobody new it is a no-op that answers the existing runs and writes nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Final

import msgspec
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.cases.models import Child
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.procurement import allowance_oneoff as oneoff
from marketplace.procurement import allowances
from marketplace.procurement import budget as ledger_side
from marketplace.procurement.festival_models import FestivalPlan, FestivalPlanRun
from marketplace.procurement.festival_schemas import FestivalPlanIn, FestivalPlanPatch
from marketplace.procurement.models import AllowancePayment, AllowanceRun, Budget, BudgetLine
from marketplace.procurement.service import require_read
from marketplace.resources.taxonomy import CHILD_CATEGORIES

# The festival calendar: the code and how the district names it (lunar festivals move in the solar calendar: each
# year's plan says its pay date).
FESTIVALS: Final[dict[str, str]] = {
    "spring": "春节",
    "lantern": "元宵节",
    "childrens_day": "六一儿童节",
    "dragon_boat": "端午节",
    "mid_autumn": "中秋节",
    "national_day": "国庆节",
    "double_ninth": "重阳节",
}
# Who sets plans and prepares their runs (the district signs the runs off: allowances.SIGNERS).
WRITERS: Final = frozenset({"district_admin", "procurement_officer"})
# A run that holds (or will hold) its list: a plan with one of these can no longer be edited in place.
LIVE_STATUSES: Final = oneoff.LIVE_STATUSES
RELEASED_STATUSES: Final = ("withdrawn", "failed")


def require_write(principal: Principal) -> None:
    if principal.role not in WRITERS:
        raise Forbidden(f"仅区民政局或采购经办人可办理节日慰问 (role {principal.role} may not change festival plans)")


def festival_label(code: str) -> str:
    return FESTIVALS.get(code, code)


def plan_title(year: int, festival: str) -> str:
    return f"{year}年{festival_label(festival)}慰问"


def _amounts(raw: list[object]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in raw:
        category = str(getattr(item, "category", ""))
        amount = int(getattr(item, "amount_fen", 0))
        if category not in CHILD_CATEGORIES:
            raise Invalid.field("amounts", f"未知儿童类别“{category}” (unknown child category)")
        if category in out:
            raise Invalid.field("amounts", f"类别“{CHILD_CATEGORIES[category]}”重复填写 (a category is listed twice)")
        out[category] = amount
    if not out:
        raise Invalid.field("amounts", "请至少为一个儿童类别填写慰问金额 (an amount per category is required)")
    return out


async def _line(session: AsyncSession, line_id: int, year: int) -> BudgetLine:
    line = await session.get(BudgetLine, line_id)
    if line is None:
        raise Invalid.field("line_id", f"预算科目 {line_id} 不存在 (budget line not found)")
    budget = await session.get(Budget, line.budget_id)
    if budget is None or budget.fiscal_year != year:
        have = budget.fiscal_year if budget else "?"
        raise Invalid.field("line_id", f"预算科目属 {have} 年预算，须列支 {year} 年的节日慰问科目 (wrong fiscal year)")
    return line


def _check_date(pay_date: dt.date, year: int) -> None:
    if pay_date.year != year:
        raise Invalid.field("pay_date", f"发放日期 {pay_date} 不在 {year} 年内 (pay date outside the plan's year)")


# ---------------------------------------------------------------- reading


async def _plan(session: AsyncSession, plan_id: int, *, lock: bool = False) -> FestivalPlan:
    stmt = select(FestivalPlan).where(FestivalPlan.id == plan_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    plan = await session.scalar(stmt)
    if plan is None:
        raise NotFound(f"节日慰问计划 {plan_id} 不存在 (festival plan not found)")
    return plan


async def get_plan(session: AsyncSession, principal: Principal, plan_id: int) -> FestivalPlan:
    require_read(principal)
    return await _plan(session, plan_id)


async def list_plans(
    session: AsyncSession, principal: Principal, *, year: int | None = None, all_versions: bool = False
) -> list[FestivalPlan]:
    """The plans (of ``year``), current versions only unless ``all_versions``: by year, pay date, festival."""
    require_read(principal)
    stmt = select(FestivalPlan)
    if year is not None:
        stmt = stmt.where(FestivalPlan.year == year)
    if not all_versions:
        stmt = stmt.where(FestivalPlan.current.is_(True))
    order = (FestivalPlan.year, FestivalPlan.pay_date, FestivalPlan.festival, FestivalPlan.version, FestivalPlan.id)
    return list((await session.scalars(stmt.order_by(*order))).all())


@dataclass(frozen=True)
class PlanRun:
    link: FestivalPlanRun
    run: AllowanceRun
    version: int


async def festival_runs(session: AsyncSession, plan: FestivalPlan) -> list[PlanRun]:
    """The runs of the plan's festival and year, whatever the version they were made from, oldest first."""
    rows = await session.execute(
        select(FestivalPlanRun, AllowanceRun, FestivalPlan.version)
        .join(AllowanceRun, AllowanceRun.id == FestivalPlanRun.run_id)
        .join(FestivalPlan, FestivalPlan.id == FestivalPlanRun.plan_id)
        .where(FestivalPlan.year == plan.year, FestivalPlan.festival == plan.festival)
        .order_by(FestivalPlanRun.id)
    )
    return [PlanRun(link, run, version) for link, run, version in rows.all()]


async def plan_runs(session: AsyncSession, principal: Principal, plan_id: int) -> tuple[FestivalPlan, list[PlanRun]]:
    require_read(principal)
    plan = await _plan(session, plan_id)
    return plan, await festival_runs(session, plan)


async def runs_of(session: AsyncSession, plans: list[FestivalPlan]) -> dict[int, list[PlanRun]]:
    """Each plan's festival runs (for a page of plans)."""
    return {plan.id: await festival_runs(session, plan) for plan in plans}


def is_editable(plan: FestivalPlan, runs: list[PlanRun]) -> bool:
    return plan.current is True and not any(r.run.status in LIVE_STATUSES for r in runs)


async def line_figures(
    session: AsyncSession, line_ids: list[int]
) -> dict[int, tuple[BudgetLine, ledger_side.LineFigures]]:
    lines = list((await session.scalars(select(BudgetLine).where(BudgetLine.id.in_(line_ids)))).all())
    figures = await ledger_side.figures(session, lines)
    return {line.id: (line, figures[line.id]) for line in lines}


async def year_lines(session: AsyncSession, principal: Principal, year: int) -> list[BudgetLine]:
    """The lines a plan of ``year`` may charge (the year's budgets)."""
    require_read(principal)
    rows = await session.scalars(
        select(BudgetLine)
        .join(Budget, Budget.id == BudgetLine.budget_id)
        .where(Budget.fiscal_year == year)
        .order_by(BudgetLine.budget_id, BudgetLine.id)
    )
    return list(rows.all())


# ---------------------------------------------------------------- writing plans


async def create_plan(session: AsyncSession, principal: Principal, data: FestivalPlanIn) -> FestivalPlan:
    require_write(principal)
    amounts = _amounts(list(data.amounts))
    _check_date(data.pay_date, data.year)
    await _line(session, data.line_id, data.year)
    existing = await session.scalar(
        select(FestivalPlan.id).where(
            FestivalPlan.year == data.year, FestivalPlan.festival == data.festival, FestivalPlan.current.is_(True)
        )
    )
    if existing is not None:
        raise Conflict(
            f"{data.year} 年{festival_label(data.festival)}已有慰问计划（{existing}），请修改该计划或另立新版本 "
            "(a plan for this festival and year exists)",
            existing_id=existing,
        )
    plan = FestivalPlan(
        year=data.year,
        festival=data.festival,
        version=1,
        current=True,
        title=plan_title(data.year, data.festival),
        pay_date=data.pay_date,
        line_id=data.line_id,
        amounts=amounts,
        note=data.note.strip(),
        created_by=principal.account_id,
        updated_by=principal.account_id,
    )
    session.add(plan)
    await _flush_unique(session, "同一节日同一年只能有一份在用的慰问计划 (a plan for this festival and year exists)")
    return plan


async def _flush_unique(session: AsyncSession, message: str) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(message) from exc


def _apply(plan: FestivalPlan, data: FestivalPlanPatch) -> None:
    if not isinstance(data.pay_date, msgspec.UnsetType):
        plan.pay_date = data.pay_date
    if not isinstance(data.line_id, msgspec.UnsetType):
        plan.line_id = data.line_id
    if not isinstance(data.amounts, msgspec.UnsetType):
        plan.amounts = _amounts(list(data.amounts))
    if not isinstance(data.note, msgspec.UnsetType):
        plan.note = data.note.strip()


async def update_plan(
    session: AsyncSession, principal: Principal, plan_id: int, data: FestivalPlanPatch
) -> FestivalPlan:
    """Edit a plan in place: only its current version, and only before its first run is prepared."""
    require_write(principal)
    plan = await _plan(session, plan_id, lock=True)
    if plan.current is not True:
        raise Conflict(f"该计划已被新版本取代，不能修改 (plan {plan_id} is superseded)", plan_id=plan_id)
    if not is_editable(plan, await festival_runs(session, plan)):
        raise Conflict(
            "该计划已编制发放名册，不能再修改；如需调整请另立新版本（原版本留档）"
            "(the plan has a run: change it by a new version, POST .../versions)",
            plan_id=plan_id,
        )
    _apply(plan, data)
    _check_date(plan.pay_date, plan.year)
    await _line(session, plan.line_id, plan.year)
    plan.updated_by, plan.updated_at = principal.account_id, clock.now()
    await session.flush()
    return plan


async def new_version(
    session: AsyncSession, principal: Principal, plan_id: int, data: FestivalPlanPatch
) -> FestivalPlan:
    """A new version of the current plan (after a run, or whenever the district wants the change on record): the old
    one kept (``current`` NULL); later runs use the new one and still pay nobody twice."""
    require_write(principal)
    old = await _plan(session, plan_id, lock=True)
    if old.current is not True:
        raise Conflict(f"该计划已被新版本取代，请在最新版本上修改 (plan {plan_id} is superseded)", plan_id=plan_id)
    plan = FestivalPlan(
        year=old.year,
        festival=old.festival,
        version=old.version + 1,
        current=True,
        title=old.title,
        pay_date=old.pay_date,
        line_id=old.line_id,
        amounts=dict(old.amounts),
        note=old.note,
        supersedes_id=old.id,
        created_by=principal.account_id,
        updated_by=principal.account_id,
    )
    _apply(plan, data)
    _check_date(plan.pay_date, plan.year)
    await _line(session, plan.line_id, plan.year)
    old.current = None
    await session.flush()
    session.add(plan)
    await _flush_unique(session, "该计划刚被他人修改，请刷新后重试 (the plan changed meanwhile)")
    return plan


# ---------------------------------------------------------------- running a plan


@dataclass(frozen=True)
class Outcome:
    plan: FestivalPlan
    created: PlanRun | None
    runs: list[PlanRun]
    already_paid: int
    missing_payee: int
    not_covered: int


async def _categories(session: AsyncSession, child_ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for start in range(0, len(child_ids), 500):
        rows = await session.execute(
            select(Child.id, Child.categories).where(Child.id.in_(child_ids[start : start + 500]))
        )
        out.update({int(cid): list(cats or []) for cid, cats in rows.all()})
    return out


def best_amount(categories: list[str], amounts: dict[str, int]) -> tuple[str, int] | None:
    """The category paying the most among ``categories`` (ties: the calendar's category order), or None."""
    order = list(CHILD_CATEGORIES)
    paid = [(int(amounts[c]), -order.index(c), c) for c in set(categories) if c in amounts and c in order]
    if not paid:
        return None
    amount, _, category = max(paid)
    return category, amount


async def run_plan(session: AsyncSession, principal: Principal, plan_id: int) -> Outcome:
    """Prepare the plan's run (or its 补发); nothing new to pay: the existing runs and nothing written."""
    require_write(principal)
    # The plan's row lock: two runs of one plan at once queue here; the second then sees the first's payments.
    plan = await _plan(session, plan_id, lock=True)
    if plan.current is not True:
        raise Conflict(f"该计划已被新版本取代，请按最新版本编制 (plan {plan_id} is superseded)", plan_id=plan_id)
    key = plan.festival_key
    released = select(AllowanceRun.id).where(AllowanceRun.status.in_(RELEASED_STATUSES))
    await session.execute(
        update(AllowancePayment)
        .where(
            AllowancePayment.festival_key == key,
            AllowancePayment.festival_live.is_(True),
            AllowancePayment.run_id.in_(released),
        )
        .values(festival_live=None)
        .execution_options(synchronize_session=False)
    )
    paid = set(
        (
            await session.scalars(
                select(AllowancePayment.person_key).where(
                    AllowancePayment.festival_key == key, AllowancePayment.festival_live.is_(True)
                )
            )
        ).all()
    )
    month = f"{plan.pay_date.year:04d}-{plan.pay_date.month:02d}"
    people = await allowances.eligible_children(session, month)
    files = await _categories(session, sorted({int(p.key.split(":")[1]) for p in people}))
    dues: list[tuple[allowances.Person, int, str]] = []
    seen: set[str] = set()
    already = missing = not_covered = 0
    amounts = {str(k): int(v) for k, v in plan.amounts.items()}
    for person in people:
        if person.key in seen:
            continue
        seen.add(person.key)
        best = best_amount([person.category, *files.get(int(person.key.split(":")[1]), [])], amounts)
        if best is None:
            not_covered += 1
        elif person.key in paid:
            already += 1
        elif person.payee_id is None:
            missing += 1
        else:
            category, amount = best
            dues.append((replace(person, category=category), amount, plan.title))
    runs = await festival_runs(session, plan)
    live = [r for r in runs if r.run.status in LIVE_STATUSES]
    if not dues:
        if live:
            return Outcome(plan, None, runs, already, missing, not_covered)
        raise Conflict(
            "没有可发放的对象（无有效认定、未登记收款人或所在类别未定金额）(nobody to pay)",
            missing_payee=missing,
            not_covered=not_covered,
        )
    supplementary = bool(live)
    title = plan.title
    if supplementary:
        title = f"{plan.title}（补发{sum(1 for r in runs if r.link.supplementary) + 1}）"
    req = oneoff.OneOffRequest(
        kind="festival", title=title, pay_date=plan.pay_date, line_id=plan.line_id, category_amounts=amounts
    )
    line = await _line(session, plan.line_id, plan.year)
    checked = oneoff.Checked(req, line, month, dues, missing, not_covered)
    try:
        result = await oneoff.write(session, principal, checked, festival_key=key)
    except IntegrityError as exc:  # the unique festival key: somebody paid meanwhile (never with the plan's lock)
        raise Conflict("该节日慰问刚被他人编制，请刷新后重试 (the festival was prepared meanwhile)") from exc
    link = FestivalPlanRun(plan_id=plan.id, run_id=result.run_id, supplementary=supplementary)
    session.add(link)
    await session.flush()
    run = await session.get(AllowanceRun, result.run_id)
    assert run is not None
    created = PlanRun(link, run, plan.version)
    return Outcome(plan, created, [*runs, created], already, missing, not_covered)
