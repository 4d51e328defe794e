"""Demo festival condolences (节日慰问): Futian's 10,000 yuan a year 节日慰问 line of the 2026 special budget, plans
for 春节, 六一 and 中秋 2026 at amounts that fit it for the demo's children (about 105 with a grant: 17 orphans and
de-facto unsupported, 26 disabled or seriously ill, 63 in economic hardship), 春节 and 六一 paid, 中秋 prepared and
signed off, and the 2027 春节 plan drafted when a 2027 budget holds a 节日慰问 line (the demo's budget is 2026's).

春节: 100 yuan for orphans and de-facto unsupported children, 60 for the disabled and seriously ill (about 3,260
yuan); 六一: 50 for those, 20 for economic hardship (about 3,410 yuan); 中秋: 100 and 50 (about 2,900 yuan).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.cases.crypto import field_cipher
from marketplace.errors import DomainError
from marketplace.procurement import allowances, festivals
from marketplace.procurement.festival_schemas import FestivalAmountIn, FestivalPlanIn
from marketplace.procurement.models import Budget, BudgetLine
from marketplace.settings import Settings, get_settings

log = logging.getLogger("marketplace.demo")

LINE_CODE: Final = "festival_condolence"
SPRING: Final = {"orphan": 10_000, "de_facto_unsupported": 10_000, "disabled": 6_000, "seriously_ill": 6_000}
CHILDRENS_DAY: Final = {
    "orphan": 5_000,
    "de_facto_unsupported": 5_000,
    "disabled": 5_000,
    "seriously_ill": 5_000,
    "economic_hardship": 2_000,
}
MID_AUTUMN: Final = {"orphan": 10_000, "de_facto_unsupported": 10_000, "disabled": 5_000, "seriously_ill": 5_000}
# (festival, month, day, amounts, how far it goes: paid | signed_off | draft)
PLANS: Final = (
    ("spring", 2, 10, SPRING, "paid", "春节前发放，福田区民政局"),
    ("childrens_day", 5, 29, CHILDRENS_DAY, "paid", "六一前发放"),
    ("mid_autumn", 9, 22, MID_AUTUMN, "signed_off", "中秋前发放"),
)


async def _line(session: AsyncSession, year: int) -> BudgetLine | None:
    line: BudgetLine | None = await session.scalar(
        select(BudgetLine)
        .join(Budget, Budget.id == BudgetLine.budget_id)
        .where(Budget.fiscal_year == year, BudgetLine.code == LINE_CODE)
        .order_by(BudgetLine.id)
        .limit(1)
    )
    return line


def _input(year: int, festival: str, day: dt.date, amounts: dict[str, int], line_id: int, note: str) -> FestivalPlanIn:
    return FestivalPlanIn(
        year=year,
        festival=festival,  # type: ignore[arg-type]
        pay_date=day,
        line_id=line_id,
        amounts=[FestivalAmountIn(category=c, amount_fen=a) for c, a in amounts.items()],
        note=note,
    )


async def load(session: AsyncSession, ctx: dict[str, Any], officer: Principal, year: int) -> None:
    settings: Settings = ctx.get("settings") or get_settings()
    users: dict[str, int] = ctx.get("users", {})
    admin = Principal(user_id=users.get("admin", 0), username="admin", role="district_admin")
    line = await _line(session, year)
    if line is None:
        log.info("procurement demo: no %s line in %s; no festival plans", LINE_CODE, year)
        return
    cipher = field_cipher(settings)
    today = clock.today()
    for festival, month, day, amounts, goal, note in PLANS:
        pay_date = dt.date(year, month, day)
        plan = await festivals.create_plan(session, admin, _input(year, festival, pay_date, amounts, line.id, note))
        if pay_date > today:
            continue  # a plan ahead of its date stays a draft
        try:
            async with session.begin_nested():
                outcome = await festivals.run_plan(session, admin, plan.id)
                if outcome.created is None:
                    continue
                run_id = outcome.created.run.id
                await allowances.sign_off(session, admin, settings, cipher, run_id, "演示：节日慰问名册签批")
                if goal == "paid":
                    await allowances.pay_run(session, officer, run_id)
        except DomainError as exc:
            log.info("procurement demo: %s not prepared: %s", plan.title, exc.detail)
    following = await _line(session, year + 1)
    if following is not None:
        await festivals.create_plan(
            session, admin, _input(year + 1, "spring", dt.date(year + 1, 1, 29), SPRING, following.id, "草拟")
        )
