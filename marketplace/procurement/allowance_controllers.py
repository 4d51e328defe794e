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
from marketplace.errors import Invalid
from marketplace.ids import PathId
from marketplace.procurement import allowance_jobs, allowance_reports, allowances
from marketplace.procurement import allowance_oneoff as oneoff
from marketplace.procurement.allowance_models import (
    AllowancePayment,
    AllowanceRun,
    AllowanceSignOff,
    AllowanceStandard,
)
from marketplace.procurement.allowance_schemas import (
    AllowanceRunIn,
    AllowanceRunOut,
    AllowanceWithheldOut,
    KindTotal,
    RateCount,
    RunDetailOut,
    RunPaymentOut,
    RunProgressOut,
    SignOffIn,
    SignOffOut,
    StandardIn,
    StandardOut,
)
from marketplace.procurement.budget import yuan_text
from marketplace.procurement.festival_controllers import ROUTES as FESTIVAL_ROUTES
from marketplace.procurement.schemas import ReasonIn
from marketplace.resources.taxonomy import CHILD_CATEGORIES


def one_off_request(data: AllowanceRunIn) -> oneoff.OneOffRequest:
    """The one-off request of a body whose kind is festival or special (a monthly field there is refused)."""
    if data.budget_id is not None:
        raise Invalid.field("budget_id", "节日/专项发放按所选预算科目列支，不填 budget_id (use line_id)")
    if data.month is not None and data.pay_date is not None and data.month != data.pay_date.isoformat()[:7]:
        raise Invalid.field("month", f"月份 {data.month} 与发放日期 {data.pay_date} 不符 (month and pay_date differ)")
    return oneoff.OneOffRequest(
        kind=data.kind,
        title=data.title,
        pay_date=data.pay_date,
        line_id=data.line_id,
        amount_fen=data.amount_fen,
        category_amounts={c.category: c.amount_fen for c in data.category_amounts},
        payees=tuple(oneoff.SpecialPayee(p.child_id, p.amount_fen, p.reason) for p in data.payees),
    )


def monthly_month(data: AllowanceRunIn) -> str:
    """The month of a monthly run's body (one-off fields there are refused)."""
    if data.title or data.pay_date or data.line_id or data.amount_fen or data.category_amounts or data.payees:
        raise Invalid.field(
            "kind", "月度发放只填 month 与 budget_id；节日/专项发放请指定 kind (one-off fields need kind)"
        )
    if data.month is None:
        raise Invalid.field("month", "请填写发放月份 (month required)")
    return data.month


def progress_out(run: AllowanceRun) -> RunProgressOut:
    return RunProgressOut(
        id=run.id,
        kind=run.kind,
        kind_label=oneoff.kind_label(run.kind),
        title=oneoff.run_title(run),
        month=run.month,
        pay_date=run.pay_date,
        status=run.status,
        status_label=allowances.RUN_STATUSES.get(run.status, run.status),
        steps_done=run.steps_done,
        steps_total=run.steps_total,
        progress=allowance_jobs.progress_percent(run),
        error=run.error,
    )


def _run_out(result: allowances.RunResult, data: AllowanceRunIn | None = None) -> AllowanceRunOut:
    return AllowanceRunOut(
        id=result.run_id,
        month=result.month,
        budget_id=result.budget_id,
        paid=[
            KindTotal(
                kind=k.kind,
                label=oneoff.payment_kind_label(k.kind),
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
        kind=data.kind if data else "monthly",
        title=data.title.strip() if data and data.kind != "monthly" else "",
        pay_date=data.pay_date if data and data.kind != "monthly" else None,
        withheld=[AllowanceWithheldOut(**w) for w in result.withheld],
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
        kind=run.kind,
        kind_label=oneoff.kind_label(run.kind),
        title=oneoff.run_title(run),
        pay_date=run.pay_date,
        line_id=run.line_id,
        error=run.error,
        paid_count=run.paid_count,
        total_fen=run.total_fen,
        created_at=run.created_at,
        paid_at=run.paid_at,
        withdrawn_at=run.withdrawn_at,
        withdraw_reason=run.withdraw_reason,
        sign_off=_sign_off_out(signature) if signature else None,
        payments=[msgspec.convert(p, RunPaymentOut, from_attributes=True) for p in payments],
    )


def payment_sheet(run: AllowanceRun, payments: list[AllowancePayment]) -> tabular.Sheet:
    """A run's list of payees and amounts as the district files it (the bank file holds the accounts)."""
    rows = [
        [
            i,
            p.community_id or "",
            p.person_name,
            CHILD_CATEGORIES.get(p.category, p.category),
            allowances.PAYEE_KINDS.get(p.payee_kind, p.payee_kind),
            p.payee_name,
            tabular.money(p.amount_fen),
            p.reason if run.kind == "festival" else oneoff.payment_kind_label(p.kind),
        ]
        for i, p in enumerate(payments, start=1)
    ]
    headers = ["序号", "社区编号", "姓名", "类别", "收款人类型", "收款人", "金额(元)", "用途"]
    return tabular.Sheet(oneoff.run_title(run)[:31], headers, rows)


class AllowanceController(Controller):
    path = "/api/v1/allowances"
    tags = ["procurement"]

    @post(
        "/runs",
        operation_id="runAllowances",
        summary="编制发放名册：按月（生活补贴与岗位补贴，可重复执行）或节日慰问/专项补助（一次性）",
    )
    async def run(
        self, data: JSONBody[AllowanceRunIn], session: DbSession, principal: CurrentUser, settings: AppSettings
    ) -> AllowanceRunOut:
        if data.kind != "monthly":
            return _run_out(await oneoff.prepare(session, principal, one_off_request(data)), data)
        result = await allowances.run_month(
            session, principal, monthly_month(data), budget_id=data.budget_id, region=settings.allowances.region
        )
        return _run_out(result)

    @post(
        "/runs/prepare",
        operation_id="prepareAllowanceRun",
        summary="后台编制发放名册（返回 202 与进度，轮询 progress）",
        status_code=202,
    )
    async def prepare(
        self, data: JSONBody[AllowanceRunIn], session: DbSession, principal: CurrentUser
    ) -> RunProgressOut:
        if data.kind != "monthly":
            run = await allowance_jobs.start_one_off(session, principal, one_off_request(data))
        else:
            run = await allowance_jobs.start_monthly(session, principal, monthly_month(data), budget_id=data.budget_id)
        return progress_out(run)

    @get("/runs/{run_id:int}/progress", operation_id="getAllowanceRunProgress", summary="发放名册编制进度")
    async def progress(self, run_id: PathId, session: DbSession, principal: CurrentUser) -> RunProgressOut:
        return progress_out(await allowances.run_status(session, principal, run_id))

    @get("/runs/{run_id:int}", operation_id="getAllowanceRun", summary="补贴发放名册（收款人与金额）及签批记录")
    async def one(self, run_id: PathId, session: DbSession, principal: CurrentUser) -> RunDetailOut:
        return await _detail(session, principal, run_id)

    @get(
        "/runs/{run_id:int}/list",
        operation_id="getAllowanceRunList",
        summary="发放名册下载（XLSX 或 CSV：序号、社区、姓名、类别、收款人、金额、用途）",
        operation_class=tabular.downloads(tabular.FORMATS["csv"], tabular.FORMATS["xlsx"], json=False),
    )
    async def payment_list(
        self,
        run_id: PathId,
        session: DbSession,
        principal: CurrentUser,
        format: Annotated[str, QueryParameter(pattern="^(csv|xlsx)$")] = "xlsx",
    ) -> Response[bytes]:
        run, payments, _ = await allowances.read_run(session, principal, run_id)
        return tabular.download([payment_sheet(run, payments)], format, f"allowance-run-{run.id}")

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
        operation_class=tabular.downloads("text/csv", json=False),
    )
    async def bank_file(
        self, run_id: PathId, session: DbSession, principal: CurrentUser, settings: AppSettings
    ) -> Response[bytes]:
        body, name, encoding = await allowances.bank_file(session, principal, field_cipher(settings), run_id)
        return tabular.file_response(body, f"text/csv; charset={encoding}", name)

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

    @get(
        "/allowances",
        operation_id="allowanceReport",
        summary="补贴发放季度报表",
        operation_class=tabular.downloads(*tabular.FORMATS.values()),
    )
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
                "label": allowances.PAYMENT_KINDS.get(r.kind, r.kind),
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
                        "label": allowances.PAYMENT_KINDS.get(r.kind, r.kind),
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


ROUTES = [AllowanceController, AllowanceReportController, *FESTIVAL_ROUTES]
