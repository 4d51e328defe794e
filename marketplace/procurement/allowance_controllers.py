"""HTTP for allowances: runs, rates (standards) and the quarter's report. Rules live in ``allowances``."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Response, get, post
from litestar.params import JSONBody, QueryParameter

from marketplace import tabular
from marketplace.deps import CurrentUser, DbSession
from marketplace.procurement import allowance_reports, allowances
from marketplace.procurement.allowance_schemas import (
    AllowanceRunIn,
    AllowanceRunOut,
    KindTotal,
    StandardIn,
    StandardOut,
)
from marketplace.procurement.budget import yuan_text


def _run_out(result: allowances.RunResult) -> AllowanceRunOut:
    return AllowanceRunOut(
        id=result.run_id,
        month=result.month,
        budget_id=result.budget_id,
        paid=[
            KindTotal(
                kind=k.kind,
                label=allowances.KINDS.get(k.kind, k.kind),
                count=k.count,
                total_fen=k.total_fen,
                standard_fen=k.standard_fen,
            )
            for k in result.paid
        ],
        already_paid=result.already_paid,
        paid_count=result.paid_count,
        total_fen=result.total_fen,
    )


class AllowanceController(Controller):
    path = "/api/v1/allowances"
    tags = ["procurement"]

    @post("/runs", operation_id="runAllowances", summary="按月发放生活补贴与岗位补贴（可重复执行）")
    async def run(self, data: JSONBody[AllowanceRunIn], session: DbSession, principal: CurrentUser) -> AllowanceRunOut:
        return _run_out(await allowances.run_month(session, principal, data.month, budget_id=data.budget_id))

    @get("/standards", operation_id="listAllowanceStandards", summary="补贴标准（按生效日期）")
    async def standards(self, session: DbSession, principal: CurrentUser) -> list[StandardOut]:
        return [
            StandardOut(id=s.id, kind=s.kind, effective_from=s.effective_from, amount_fen=s.amount_fen, note=s.note)
            for s in await allowances.list_standards(session, principal)
        ]

    @post("/standards", operation_id="addAllowanceStandard", summary="新增补贴标准")
    async def add_standard(self, data: JSONBody[StandardIn], session: DbSession, principal: CurrentUser) -> StandardOut:
        s = await allowances.add_standard(session, principal, data)
        return StandardOut(id=s.id, kind=s.kind, effective_from=s.effective_from, amount_fen=s.amount_fen, note=s.note)


def download(table: list[list[Any]], fmt: str, name: str) -> Response[bytes]:
    return tabular.download([tabular.Sheet(name, table[0], table[1:])], fmt, name)


class AllowanceReportController(Controller):
    path = "/api/v1/reports"
    tags = ["reports"]

    @get("/allowances", operation_id="allowanceReport", summary="补贴发放季度报表")
    async def allowances(
        self,
        session: DbSession,
        principal: CurrentUser,
        year: Annotated[int, QueryParameter(ge=2000, le=2100)],
        quarter: Annotated[int, QueryParameter(ge=1, le=4)],
        format: Annotated[str, QueryParameter(pattern="^(json|csv|xlsx)$")] = "json",
    ) -> Response[Any]:
        if format != "json":
            table = await allowance_reports.allowance_table(session, principal, year, quarter)
            return download(table, format, f"allowances-{year}-Q{quarter}")
        monthly, totals = await allowances.quarter_report(session, principal, year, quarter)

        def row(r: allowances.QuarterRow) -> dict[str, Any]:
            return {
                "kind": r.kind,
                "label": allowances.KINDS.get(r.kind, r.kind),
                "month": r.month,
                "payments": r.count,
                "persons": r.persons,
                "total_fen": r.total_fen,
                "total_yuan": yuan_text(r.total_fen),
            }

        return Response(
            content={
                "year": year,
                "quarter": quarter,
                "months": allowances.quarter_months(year, quarter),
                "by_month": [row(r) for r in monthly],
                "totals": [row(r) for r in totals],
                "payments": sum(r.count for r in totals),
                "total_fen": sum(r.total_fen for r in totals),
                "total_yuan": yuan_text(sum(r.total_fen for r in totals)),
            }
        )


ROUTES = [AllowanceController, AllowanceReportController]
