"""Budget execution reports, with CSV and XLSX downloads. Money stays integer fen; yuan columns
are exact decimal strings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Response
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.auth.principal import Principal
from marketplace.procurement import budget as ledger_side
from marketplace.procurement.budget import rate_text as rate_text
from marketplace.procurement.budget import yuan_text as yuan_text
from marketplace.procurement.models import Budget
from marketplace.procurement.service import read_budget
from marketplace.tabular import Sheet, basis_points, download, money


@dataclass(frozen=True)
class ExecutionRow:
    line_id: int | None
    code: str
    name: str
    original_fen: int
    figures: ledger_side.LineFigures


@dataclass(frozen=True)
class Execution:
    budget: Budget
    rows: list[ExecutionRow]
    total: ledger_side.LineFigures


async def budget_execution(session: AsyncSession, principal: Principal, budget_id: int) -> Execution:
    budget = await read_budget(session, principal, budget_id)
    figs = await ledger_side.figures(session, budget.lines)
    rows = [ExecutionRow(line.id, line.code, line.name, line.original_fen, figs[line.id]) for line in budget.lines]
    total = ledger_side.LineFigures(
        appropriation_fen=sum(r.figures.appropriation_fen for r in rows),
        committed_fen=sum(r.figures.committed_fen for r in rows),
        paid_fen=sum(r.figures.paid_fen for r in rows),
        held_fen=sum(r.figures.held_fen for r in rows),
    )
    return Execution(budget, rows, total)


EXECUTION_HEADER = [
    "科目代码",
    "科目名称",
    "预算数(元)",
    "已承诺(元)",
    "已支付(元)",
    "采购占用(元)",
    "可用额度(元)",
    "执行率",
]


def execution_table(report: Execution) -> list[list[Any]]:
    """The execution report as rows: money typed as exact yuan, the execution rate as a fraction (XLSX). The room
    held for approved procurements not yet awarded (采购占用) is neither committed nor available."""
    table: list[list[Any]] = [list(EXECUTION_HEADER)]
    for code, name, f in [(r.code, r.name, r.figures) for r in report.rows] + [("total", "合计", report.total)]:
        table.append(
            [
                code,
                name,
                money(f.appropriation_fen),
                money(f.committed_fen),
                money(f.paid_fen),
                money(f.held_fen),
                money(f.available_fen),
                basis_points(f.execution_bp),
            ]
        )
    return table


def execution_download(report: Execution, fmt: str) -> Response[bytes]:
    """The execution report as a CSV or XLSX attachment (the API's ``?format=`` and the console's links)."""
    name = f"budget-execution-{report.budget.id}"
    table = execution_table(report)
    return download([Sheet(name, table[0], table[1:])], fmt, name)
