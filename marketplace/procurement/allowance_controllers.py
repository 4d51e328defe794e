"""HTTP for allowances: runs, rates (standards) and the quarter's report. Rules live in ``allowances``."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, get, post
from litestar.params import JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import tabular
from marketplace.auth.principal import Principal
from marketplace.cases.crypto import field_cipher
from marketplace.deps import AppSettings, CurrentUser, DbSession
from marketplace.ids import PathId
from marketplace.procurement import allowance_reports, allowances
from marketplace.procurement.allowance_models import AllowanceSignOff, AllowanceStandard
from marketplace.procurement.allowance_schemas import (
    AllowanceRunIn,
    AllowanceRunOut,
    KindTotal,
    RateCount,
    RunDetailOut,
    RunPaymentOut,
    SignOffIn,
    SignOffOut,
    StandardIn,
    StandardOut,
)
from marketplace.procurement.budget import yuan_text
from marketplace.procurement.schemas import ReasonIn


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
                rates=[RateCount(amount_fen=a, count=n) for a, n in k.rates.items()],
            )
            for k in result.paid
        ],
        already_paid=result.already_paid,
        paid_count=result.paid_count,
        total_fen=result.total_fen,
        missing_payee=result.missing_payee,
        status=result.status,
    )


def _standard_out(s: AllowanceStandard) -> StandardOut:
    return StandardOut(
        id=s.id,
        kind=s.kind,
        category=s.category,
        region=s.region,
        effective_from=s.effective_from,
        amount_fen=s.amount_fen,
        note=s.note,
    )


def _sign_off_out(s: AllowanceSignOff) -> SignOffOut:
    return msgspec.convert(s, SignOffOut, from_attributes=True)


async def _detail(session: AsyncSession, principal: Principal, run_id: int) -> RunDetailOut:
    run, payments, signature = await allowances.read_run(session, principal, run_id)
    return RunDetailOut(
        id=run.id,
        month=run.month,
        budget_id=run.budget_id,
        status=run.status,
        status_label=allowances.RUN_STATUSES.get(run.status, run.status),
        paid_count=run.paid_count,
        total_fen=run.total_fen,
        created_at=run.created_at,
        paid_at=run.paid_at,
        withdrawn_at=run.withdrawn_at,
        withdraw_reason=run.withdraw_reason,
        sign_off=_sign_off_out(signature) if signature else None,
        payments=[msgspec.convert(p, RunPaymentOut, from_attributes=True) for p in payments],
    )


class AllowanceController(Controller):
    path = "/api/v1/allowances"
    tags = ["procurement"]

    @post("/runs", operation_id="runAllowances", summary="按月编制生活补贴与岗位补贴发放名册（可重复执行）")
    async def run(
        self, data: JSONBody[AllowanceRunIn], session: DbSession, principal: CurrentUser, settings: AppSettings
    ) -> AllowanceRunOut:
        result = await allowances.run_month(
            session, principal, data.month, budget_id=data.budget_id, region=settings.allowances.region
        )
        return _run_out(result)

    @get("/runs/{run_id:int}", operation_id="getAllowanceRun", summary="补贴发放名册（收款人与金额）及签批记录")
    async def one(self, run_id: PathId, session: DbSession, principal: CurrentUser) -> RunDetailOut:
        return await _detail(session, principal, run_id)

    @post(
        "/runs/{run_id:int}/sign-off",
        operation_id="signOffAllowanceRun",
        summary="区民政局签批发放名册（记录签批人、时间及代发文件摘要）",
    )
    async def sign_off(
        self,
        run_id: PathId,
        data: JSONBody[SignOffIn],
        session: DbSession,
        principal: CurrentUser,
        settings: AppSettings,
    ) -> SignOffOut:
        signature = await allowances.sign_off(session, principal, settings, field_cipher(settings), run_id, data.note)
        return _sign_off_out(signature)

    @get(
        "/runs/{run_id:int}/bank-file",
        operation_id="getAllowanceBankFile",
        summary="银行代发文件（CSV，GBK 或 UTF-8，与签批一致）",
    )
    async def bank_file(
        self, run_id: PathId, session: DbSession, principal: CurrentUser, settings: AppSettings
    ) -> Response[bytes]:
        body, name, encoding = await allowances.bank_file(session, principal, field_cipher(settings), run_id)
        return Response(
            content=body,
            media_type=f"text/csv; charset={encoding}",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @post(
        "/runs/{run_id:int}/pay",
        operation_id="payAllowanceRun",
        summary="签批后发放（每批只能发放一次）",
        status_code=200,
    )
    async def pay(self, run_id: PathId, session: DbSession, principal: CurrentUser) -> RunDetailOut:
        await allowances.pay_run(session, principal, run_id)
        return await _detail(session, principal, run_id)

    @post(
        "/runs/{run_id:int}/withdraw",
        operation_id="withdrawAllowanceRun",
        summary="撤销未发放的名册（释放预算，名册与签批留档）",
        status_code=200,
    )
    async def withdraw(
        self, run_id: PathId, data: JSONBody[ReasonIn], session: DbSession, principal: CurrentUser
    ) -> RunDetailOut:
        await allowances.withdraw_run(session, principal, run_id, data.reason)
        return await _detail(session, principal, run_id)

    @get("/standards", operation_id="listAllowanceStandards", summary="补贴标准（按生效日期）")
    async def standards(self, session: DbSession, principal: CurrentUser) -> list[StandardOut]:
        return [_standard_out(s) for s in await allowances.list_standards(session, principal)]

    @post("/standards", operation_id="addAllowanceStandard", summary="新增补贴标准")
    async def add_standard(self, data: JSONBody[StandardIn], session: DbSession, principal: CurrentUser) -> StandardOut:
        return _standard_out(await allowances.add_standard(session, principal, data))


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
        rates = await allowances.quarter_rates(session, principal, year, quarter)

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
                "by_rate": [
                    {
                        "kind": r.kind,
                        "label": allowances.KINDS.get(r.kind, r.kind),
                        "category": r.category,
                        "standard_fen": r.amount_fen,
                        "payments": r.count,
                        "persons": r.persons,
                        "total_fen": r.total_fen,
                        "total_yuan": yuan_text(r.total_fen),
                    }
                    for r in rates
                ],
                "rates": sorted({r.amount_fen for r in rates if r.kind == "living_allowance"}, reverse=True),
                "payments": sum(r.count for r in totals),
                "total_fen": sum(r.total_fen for r in totals),
                "total_yuan": yuan_text(sum(r.total_fen for r in totals)),
            }
        )


ROUTES = [AllowanceController, AllowanceReportController]
