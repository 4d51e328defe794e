"""The allowance quarter report as a table for CSV and XLSX downloads (money as exact yuan, months typed)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.auth.principal import Principal
from marketplace.procurement.allowances import PAYMENT_KINDS, quarter_rates, quarter_report
from marketplace.resources.taxonomy import CHILD_CATEGORIES
from marketplace.tabular import money, month


async def allowance_table(session: AsyncSession, principal: Principal, year: int, quarter: int) -> list[list[Any]]:
    """The quarter's allowances: months as dates (``yyyy-mm``), counts as integers, money as exact yuan (XLSX)."""
    monthly, totals = await quarter_report(session, principal, year, quarter)
    rates = await quarter_rates(session, principal, year, quarter)
    table: list[list[Any]] = [["补贴类别", "月份", "发放人次", "发放人数", "金额(元)"]]
    for r in monthly:
        table.append(
            [
                PAYMENT_KINDS.get(r.kind, r.kind),
                month(r.month) if r.month else "",
                r.count,
                r.persons,
                money(r.total_fen),
            ]
        )
    for r in totals:
        table.append(
            [
                PAYMENT_KINDS.get(r.kind, r.kind),
                f"{year}年第{quarter}季度合计",
                r.count,
                r.persons,
                money(r.total_fen),
            ]
        )
    for rate in rates:
        category = CHILD_CATEGORIES.get(rate.category, rate.category)
        standard = f"标准 {rate.amount_fen // 100}.{rate.amount_fen % 100:02d}元/月" + (
            f"（{category}）" if category else ""
        )
        table.append(
            [PAYMENT_KINDS.get(rate.kind, rate.kind), standard, rate.count, rate.persons, money(rate.total_fen)]
        )
    return table
