"""Monthly allowances paid from the special budget.

- Living allowance (基本生活补贴) for every active orphan and de-facto unsupported child (孤儿、事实无人抚养儿童),
  at the standard in force on the first day of the month (Futian: 2,454 yuan from 2023-01-01).
- Child-director post subsidy (儿童主任岗位补贴) for every active child-director user.

A run is idempotent per person and month: ``allowance_payments`` is unique on (kind, person, month), and a run
pays only those not yet paid, so running a month again pays nobody twice and picks up people added since.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import outbox
from marketplace.auth.models import User
from marketplace.auth.principal import Principal
from marketplace.cases.models import Child
from marketplace.errors import Conflict, Invalid, NotFound
from marketplace.procurement import budget as ledger_side
from marketplace.procurement.allowance_schemas import StandardIn
from marketplace.procurement.models import (
    AllowancePayment,
    AllowanceRun,
    AllowanceStandard,
    Budget,
    BudgetLine,
)
from marketplace.procurement.rules import yuan
from marketplace.procurement.service import require_read, require_write

KINDS: Final[dict[str, str]] = {"living_allowance": "困境儿童基本生活补贴", "director_subsidy": "儿童主任岗位补贴"}
# Budget line codes that pay each kind, in order of preference (the demo budget says director_post_subsidy).
LINE_CODES: Final[dict[str, tuple[str, ...]]] = {
    "living_allowance": ("living_allowance",),
    "director_subsidy": ("director_subsidy", "director_post_subsidy"),
}
ELIGIBLE_CHILD_CATEGORIES: Final = frozenset({"orphan", "de_facto_unsupported"})


@dataclass(frozen=True)
class Person:
    key: str  # "child:12" | "user:7"
    name: str
    community_id: int | None


EligibleSource = Callable[[AsyncSession, str], Awaitable[list[Person]]]


async def eligible_children(session: AsyncSession, month: str) -> list[Person]:
    first = month_start(month)
    rows = await session.execute(
        select(Child.id, Child.name, Child.community_id, Child.categories, Child.birth_date)
        .where(Child.status == "active")
        .order_by(Child.id)
    )
    out = []
    for child_id, name, community_id, categories, birth_date in rows.all():
        # Under 18 on the first day of the month: the allowance stops the month after the 18th birthday.
        adult_on = _eighteenth(birth_date)
        if ELIGIBLE_CHILD_CATEGORIES & set(categories or []) and adult_on > first:
            out.append(Person(f"child:{child_id}", name, community_id))
    return out


def _eighteenth(birth: dt.date) -> dt.date:
    try:
        return birth.replace(year=birth.year + 18)
    except ValueError:  # born 29 February
        return dt.date(birth.year + 18, 3, 1)


async def eligible_directors(session: AsyncSession, month: str) -> list[Person]:
    rows = await session.execute(
        select(User.id, User.display_name, User.community_id)
        .where(User.role == "child_director", User.is_active.is_(True))
        .order_by(User.id)
    )
    return [Person(f"user:{uid}", name, community_id) for uid, name, community_id in rows.all()]


SOURCES: Final[dict[str, EligibleSource]] = {
    "living_allowance": eligible_children,
    "director_subsidy": eligible_directors,
}


def month_start(month: str) -> dt.date:
    try:
        year, mon = month.split("-")
        return dt.date(int(year), int(mon), 1)
    except ValueError:
        raise Invalid.field("month", "月份格式须为 YYYY-MM") from None


async def standard_for(session: AsyncSession, kind: str, month: str) -> int:
    amount = await session.scalar(
        select(AllowanceStandard.amount_fen)
        .where(AllowanceStandard.kind == kind, AllowanceStandard.effective_from <= month_start(month))
        .order_by(AllowanceStandard.effective_from.desc())
        .limit(1)
    )
    return int(amount or 0)


async def list_standards(session: AsyncSession, principal: Principal) -> list[AllowanceStandard]:
    require_read(principal, budget=True)
    rows = await session.scalars(
        select(AllowanceStandard).order_by(AllowanceStandard.kind, AllowanceStandard.effective_from)
    )
    return list(rows.all())


async def add_standard(session: AsyncSession, principal: Principal, data: StandardIn) -> AllowanceStandard:
    require_write(principal)
    if data.kind not in KINDS:
        raise Invalid.field("kind", "补贴类别须为 " + ", ".join(KINDS))
    clash = await session.scalar(
        select(AllowanceStandard.id).where(
            AllowanceStandard.kind == data.kind, AllowanceStandard.effective_from == data.effective_from
        )
    )
    if clash is not None:
        raise Conflict("该日期已有标准 (a standard already starts on that date)", existing_id=clash)
    row = AllowanceStandard(
        kind=data.kind, effective_from=data.effective_from, amount_fen=data.amount_fen, note=data.note
    )
    session.add(row)
    await session.flush()
    return row


async def _budget_for(session: AsyncSession, month: str, budget_id: int | None) -> Budget:
    year = month_start(month).year
    if budget_id is not None:
        chosen = await session.get(Budget, budget_id)
        if chosen is None:
            raise NotFound(f"预算 {budget_id} 不存在 (budget not found)")
        if chosen.fiscal_year != year:
            raise Invalid.field("budget_id", f"预算财年 {chosen.fiscal_year} 与发放月份 {month} 不符")
        return chosen
    found = list((await session.scalars(select(Budget).where(Budget.fiscal_year == year).order_by(Budget.id))).all())
    if not found:
        raise Conflict(f"{year} 年尚无预算，不能发放补贴 (no budget for the year)")
    if len(found) > 1:
        raise Invalid.field("budget_id", f"{year} 年有多个预算，请指定 budget_id")
    return found[0]


@dataclass(frozen=True)
class KindResult:
    kind: str
    count: int
    total_fen: int
    standard_fen: int


@dataclass(frozen=True)
class RunResult:
    run_id: int | None
    month: str
    budget_id: int
    paid: list[KindResult]
    already_paid: int

    @property
    def paid_count(self) -> int:
        return sum(k.count for k in self.paid)

    @property
    def total_fen(self) -> int:
        return sum(k.total_fen for k in self.paid)


async def run_month(
    session: AsyncSession,
    principal: Principal | None,
    month: str,
    *,
    budget_id: int | None = None,
    sources: dict[str, EligibleSource] | None = None,
) -> RunResult:
    """Pay the month's allowances to everyone eligible and not yet paid; all or nothing.

    ``principal`` is None for the scheduled job. ``sources`` replaces who is eligible (tests, other registers).
    """
    if principal is not None:
        require_write(principal)
    month_start(month)
    chosen = await _budget_for(session, month, budget_id)
    lines = list((await session.scalars(select(BudgetLine).where(BudgetLine.budget_id == chosen.id))).all())
    by_code = {line.code: line for line in lines}
    plan: dict[str, tuple[BudgetLine, int, list[Person]]] = {}
    for kind, source in (sources or SOURCES).items():
        standard = await standard_for(session, kind, month)
        if standard <= 0:
            continue
        line = next((by_code[c] for c in LINE_CODES.get(kind, (kind,)) if c in by_code), None)
        if line is None:
            raise Conflict(f"预算“{chosen.name}”没有“{KINDS.get(kind, kind)}”科目 (no budget line for {kind})")
        plan[kind] = (line, standard, await source(session, month))
    if not plan:
        return RunResult(None, month, chosen.id, [], 0)
    # Lock first, then read who is already paid: a concurrent run of the same month waits here and then sees ours.
    locked = await ledger_side.lock_lines(session, [line.id for line, _, _ in plan.values()])
    already = 0
    to_pay: dict[str, list[Person]] = {}
    for kind, (_, _, people) in plan.items():
        paid_keys = set(
            (
                await session.scalars(
                    select(AllowancePayment.person_key).where(
                        AllowancePayment.kind == kind, AllowancePayment.month == month
                    )
                )
            ).all()
        )
        to_pay[kind] = [p for p in people if p.key not in paid_keys]
        already += len(people) - len(to_pay[kind])
    needed: dict[int, int] = {}
    for kind, (line, standard, _) in plan.items():
        needed[line.id] = needed.get(line.id, 0) + standard * len(to_pay[kind])
    for line_id, amount in needed.items():
        room = (await ledger_side.line_figures(session, locked[line_id])).available_fen
        if amount > room:
            raise Conflict(
                f"预算科目“{locked[line_id].name}”可用 {yuan(room)}，本月补贴需 {yuan(amount)} (budget line lacks room)",
                line_id=line_id,
                available_fen=room,
                requested_fen=amount,
            )
    if not any(to_pay.values()):
        return RunResult(None, month, chosen.id, [KindResult(k, 0, 0, plan[k][1]) for k in plan], already)
    run = AllowanceRun(month=month, budget_id=chosen.id, created_by=principal.user_id if principal else None)
    session.add(run)
    await session.flush()
    results = []
    for kind, (line, standard, _) in plan.items():
        people = to_pay[kind]
        if people:
            await session.execute(
                insert(AllowancePayment),
                [
                    {
                        "run_id": run.id,
                        "kind": kind,
                        "person_key": p.key,
                        "person_name": p.name[:80],
                        "community_id": p.community_id,
                        "month": month,
                        "amount_fen": standard,
                        "line_id": line.id,
                    }
                    for p in people
                ],
            )
        results.append(KindResult(kind, len(people), standard * len(people), standard))
    user_id = principal.user_id if principal else None
    for line_id, amount in needed.items():
        if amount <= 0:
            continue
        line = locked[line_id]
        memo = f"{month} {line.name} 发放"
        await ledger_side.commit(
            session, line, amount, kind="allowance", memo=memo, user_id=user_id, allowance_run_id=run.id
        )
        await ledger_side.pay(
            session,
            line,
            amount,
            kind="allowance",
            memo=memo,
            user_id=user_id,
            paid_on=None,
            allowance_run_id=run.id,
        )
    run.paid_count = sum(r.count for r in results)
    run.total_fen = sum(r.total_fen for r in results)
    outbox.emit(session, "allowances.paid", {"run_id": run.id, "month": month})
    return RunResult(run.id, month, chosen.id, results, already)


@dataclass(frozen=True)
class QuarterRow:
    kind: str
    month: str | None
    count: int
    persons: int
    total_fen: int


def quarter_months(year: int, quarter: int) -> list[str]:
    return [f"{year:04d}-{m:02d}" for m in range(3 * quarter - 2, 3 * quarter + 1)]


async def quarter_report(
    session: AsyncSession, principal: Principal, year: int, quarter: int
) -> tuple[list[QuarterRow], list[QuarterRow]]:
    """Per kind and per month: payments (人次), distinct persons and the total; then per-kind totals."""
    require_read(principal, budget=True)
    months = quarter_months(year, quarter)
    rows = await session.execute(
        select(
            AllowancePayment.kind,
            AllowancePayment.month,
            func.count(),
            func.sum(AllowancePayment.amount_fen),
        )
        .where(AllowancePayment.month.in_(months))
        .group_by(AllowancePayment.kind, AllowancePayment.month)
        .order_by(AllowancePayment.kind, AllowancePayment.month)
    )
    monthly = [QuarterRow(k, m, int(n), int(n), int(t or 0)) for k, m, n, t in rows.all()]
    persons = dict(
        (
            await session.execute(
                select(AllowancePayment.kind, func.count(func.distinct(AllowancePayment.person_key)))
                .where(AllowancePayment.month.in_(months))
                .group_by(AllowancePayment.kind)
            )
        ).all()
    )
    totals = []
    for kind in KINDS:
        mine: Sequence[QuarterRow] = [r for r in monthly if r.kind == kind]
        totals.append(
            QuarterRow(
                kind,
                None,
                sum(r.count for r in mine),
                int(persons.get(kind, 0)),
                sum(r.total_fen for r in mine),
            )
        )
    return monthly, totals
