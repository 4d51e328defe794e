"""Reports in the console, the district's way through them: coverage, overdue visits and referrals, the quarterly
dispatch, the street ranking, the budget execution and the fund report (income by month and channel, spending by
purpose, balances; for the fund's readers), filtered by year, quarter, street and budget (the filters
keep their values), each downloadable as CSV and XLSX exactly as the API's ``?format=`` hands it out; and
background exports with live progress, listed with who started them, when they finished and why one failed."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.params import PathParameter, QueryParameter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from admin import web
from marketplace import clock, tabular
from marketplace.auth.principal import Principal
from marketplace.deps import AppSettings, CurrentUser, DbSession
from marketplace.errors import DomainError, Forbidden, Invalid
from marketplace.funds import reports as fund_reports
from marketplace.funds import service as funds
from marketplace.funds.donations import CHANNELS
from marketplace.geography.models import Street
from marketplace.ids import PathId
from marketplace.procurement import reports as budget_reports
from marketplace.procurement import service as procurement
from marketplace.reports import downloads, jobs
from marketplace.reports import service as reports
from marketplace.reports.controllers import export_out
from marketplace.reports.exports import PROGRESS_LABELS
from marketplace.settings import Settings

ReportName = Annotated[str, PathParameter(pattern="^(coverage|overdue|quarterly|ranking|budget|fund)$")]
Format = Annotated[str, QueryParameter(pattern="^(csv|xlsx)$")]
Year = Annotated[int | None, QueryParameter(ge=2000, le=2100)]
Quarter = Annotated[int | None, QueryParameter(ge=1, le=4)]
Raw = Annotated[str, QueryParameter(max_length=20)]


def _plain(value: Any) -> Any:
    return msgspec.json.decode(msgspec.json.encode(value))


async def _streets(session: AsyncSession, principal: Principal) -> list[tuple[int, str]]:
    """The streets the caller may choose between (one for a street's supervisor or director)."""
    scope = reports.report_scope(principal)
    rows = (await session.execute(select(Street.id, Street.name).order_by(Street.id))).all()
    return [(int(i), str(n)) for i, n in rows if scope.street_id in (None, i)]


def _chosen_street(raw: str, streets: list[tuple[int, str]], principal: Principal) -> int | None:
    """The street asked for, checked against the caller's choices; a scoped role always has its own."""
    scoped = reports.report_scope(principal).street_id
    if scoped is not None:
        return scoped
    raw = raw.strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) not in {i for i, _ in streets}:
        raise Invalid.field("street_id", "请从列表中选择街道 (choose a street from the list)")
    return int(raw)


async def _budgets(session: AsyncSession, principal: Principal, year: int) -> list[tuple[int, str]] | None:
    """The year's budgets, or None when the role does not read budgets."""
    try:
        rows, _ = await procurement.list_budgets(session, principal, fiscal_year=year, limit=50, offset=0)
    except Forbidden:
        return None
    return [(b.id, b.name) for b in rows]


async def _funds(session: AsyncSession, principal: Principal) -> list[tuple[int, str]] | None:
    """The funds, or None when the role does not read the fund (the fund manager, the district, the auditor do)."""
    try:
        rows = await funds.list_funds(session, principal)
    except Forbidden:
        return None
    return [(f.id, f.name) for f in rows]


def _chosen_fund(raw: str, choices: list[tuple[int, str]]) -> int:
    raw = raw.strip()
    if not raw.isdigit() or len(raw) > 9 or int(raw) not in {i for i, _ in choices}:
        raise Invalid.field("fund_id", "请从列表中选择基金 (choose a fund from the list)")
    return int(raw)


def _period(year: int | None, quarter: int | None) -> tuple[int, int]:
    today = clock.today()
    return year or today.year, quarter or (today.month - 1) // 3 + 1


async def _starters(session: AsyncSession, rows: list[Any]) -> dict[int, str]:
    return await jobs.starters(session, rows)


async def _export_rows(session: AsyncSession, principal: Principal) -> list[dict[str, Any]]:
    rows = await jobs.list_exports(session, principal, limit=10)
    names = await _starters(session, rows)
    return [{"job": export_out(j), "who": names.get(j.created_by or 0, "")} for j in rows]


@get("/reports", name="console-reports")
async def reports_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    year: Year = None,
    quarter: Quarter = None,
    street_id: Raw = "",
    budget_id: Raw = "",
    fund_id: Raw = "",
) -> Response[str]:
    year, quarter = _period(year, quarter)
    streets = await _streets(session, principal)
    error = None
    try:
        street = _chosen_street(street_id, streets, principal)
    except Invalid as exc:
        error, street = exc.detail, reports.report_scope(principal).street_id
    budgets = await _budgets(session, principal, year)
    budget = None
    if budgets is not None:
        ids = {i for i, _ in budgets}
        wanted = int(budget_id) if budget_id.isdigit() and len(budget_id) < 10 else None
        if budget_id and wanted not in ids:
            error = error or f"请从列表中选择{year}年的预算 (choose a budget of the year)"
        budget = wanted if wanted in ids else (budgets[0][0] if budgets else None)
    execution = await budget_reports.budget_execution(session, principal, budget) if budget else None
    fund_choices = await _funds(session, principal)
    fund = None
    if fund_choices:
        try:
            fund = _chosen_fund(fund_id, fund_choices) if fund_id else fund_choices[0][0]
        except Invalid as exc:
            error, fund = error or exc.detail, fund_choices[0][0]
    fund_report = await fund_reports.fund_report(session, principal, fund) if fund else None
    query = {
        "year": year,
        "quarter": quarter,
        "street_id": street or "",
        "budget_id": budget or "",
        "fund_id": fund or "",
    }
    return web.render(
        "reports.html",
        status_code=422 if error else 200,
        error=error,
        year=year,
        quarter=quarter,
        street=street,
        streets=streets,
        scoped=reports.report_scope(principal).street_id is not None,
        budgets=budgets,
        budget=budget,
        query="&".join(f"{k}={v}" for k, v in query.items()),
        coverage=_plain(await reports.coverage(session, principal, street)),
        overdue=_plain(await reports.overdue(session, principal, settings, street)),
        dispatch=_plain(await reports.quarterly(session, principal, settings, year, quarter, street)),
        ranking=_plain(await reports.street_ranking(session, principal, settings, year)),
        execution=execution,
        funds=fund_choices,
        fund=fund,
        fund_report=fund_report,
        channels=CHANNELS,
        exports=await _export_rows(session, principal),
        kinds=jobs.EXPORT_KINDS,
        progress_labels=PROGRESS_LABELS,
        **web.page_context(request, principal, "reports"),
    )


@get("/reports/{report:str}/download", name="console-report-download")
async def report_download(
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    report: ReportName,
    format: Format,
    year: Year = None,
    quarter: Quarter = None,
    street_id: Raw = "",
    budget_id: Raw = "",
    fund_id: Raw = "",
) -> Response[bytes]:
    """The report on screen as a file: the API's download for the same query (same sheets, same name)."""
    year, quarter = _period(year, quarter)
    if report == "fund":
        # The fund's readers (not the child-report scope): the API's GET /reports/fund?format= for the same fund.
        if not fund_id.strip().isdigit() or len(fund_id.strip()) > 9:
            raise Invalid.field("fund_id", "请选择基金 (choose a fund)")
        response = await downloads.fund(session, principal, int(fund_id.strip()), format)
        response.headers.update(web.SECURITY_HEADERS)
        return response
    street = _chosen_street(street_id, await _streets(session, principal), principal)
    response = await _download(session, principal, settings, report, format, year, quarter, street, budget_id)
    response.headers.update(web.SECURITY_HEADERS)
    return response


async def _download(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    report: str,
    fmt: str,
    year: int,
    quarter: int,
    street: int | None,
    budget_id: str,
) -> Response[bytes]:
    if report == "coverage":
        return await downloads.coverage(session, principal, street, fmt)
    if report == "overdue":
        return await downloads.overdue(session, principal, settings, street, fmt)
    if report == "quarterly":
        return await downloads.quarterly(session, principal, settings, year, quarter, street, fmt)
    if report == "ranking":
        return await downloads.street_ranking(session, principal, settings, year, fmt)
    if not budget_id.isdigit() or len(budget_id) > 9:
        raise Invalid.field("budget_id", "请选择预算 (choose a budget)")
    return await downloads.budget_execution(session, principal, int(budget_id), fmt)


def _int(form: dict[str, str], name: str) -> int | None:
    raw = form.get(name, "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise Invalid.field(name, "请输入整数 (must be an integer)") from exc


@post("/exports", name="console-export-create")
async def create_export(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, form: web.ConsoleForm
) -> Response[str]:
    try:
        year, quarter = _int(form, "year"), _int(form, "quarter")
        params = {k: v for k, v in {"year": year, "quarter": quarter}.items() if v is not None}
        job = await jobs.create_export(session, principal, form.get("kind", ""), form.get("format", "xlsx"), params)
    except DomainError as exc:
        await web.abandon(session)
        if not web.is_htmx(request):
            raise
        return web.render(
            "_flash.html",
            status_code=exc.status_code,
            headers={"HX-Retarget": "#export-errors", "HX-Reswap": "innerHTML"},
            messages=[("error", exc.detail)],
        )
    return web.render(
        "_export.html",
        job=export_out(job),
        who=principal.display_name,
        status_code=202,
    )


@get("/exports/{job_id:int}", name="console-export-progress")
async def export_progress(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, job_id: PathId
) -> Response[str]:
    job = await jobs.get_export(session, principal, job_id)
    names = await _starters(session, [job])
    return web.render("_export.html", job=export_out(job), who=names.get(job.created_by or 0, ""))


@get("/exports/{job_id:int}/download", name="console-export-download")
async def export_download(session: DbSession, principal: CurrentUser, job_id: PathId) -> Response[bytes]:
    job = await jobs.get_export(session, principal, job_id, with_content=True)
    if job.status == "expired":
        raise Invalid("导出文件已过保留期删除，请重新导出 (the export's file was deleted after its retention period)")
    if job.status != "done" or job.content is None:
        raise Invalid("导出尚未完成 (export not ready)")
    media_type, encoding = tabular.media_and_encoding(job.content_type)
    return Response(
        content=job.content,
        media_type=media_type,
        encoding=encoding,
        headers={"content-disposition": f'attachment; filename="{job.filename}"', **web.SECURITY_HEADERS},
    )


ROUTES = [reports_page, report_download, create_export, export_progress, export_download]
