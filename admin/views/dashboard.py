"""The dashboard: per role, the charts whose data exists, each built from the same report the API serves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Request, Response, get
from sqlalchemy.ext.asyncio import AsyncSession

from admin import web
from marketplace.auth.principal import Principal
from marketplace.deps import AppSettings, CurrentUser, DbSession
from marketplace.funds import reports as fund_reports
from marketplace.funds import service as funds
from marketplace.procurement import reports as procurement_reports
from marketplace.procurement import service as procurement
from marketplace.procurement.readmodels import line_out
from marketplace.reports import service as reports
from marketplace.settings import Settings

# Who sees which money chart: the procurement service's budget readers and the fund's readers.
BUDGET_CHART_ROLES = frozenset({"district_admin", "auditor", "procurement_officer", "fund_manager"})
FUND_CHART_ROLES = frozenset({"fund_manager", "district_admin", "auditor"})


@dataclass
class Chart:
    key: str
    title: str
    kind: str
    data: Any
    api: str
    note: str = ""


def _plain(value: Any) -> Any:
    # The chart JSON is what the API would send: the same msgspec encoding of the same report.
    return msgspec.json.decode(msgspec.json.encode(value))


def _percent(bp: int) -> str:
    return f"{bp // 100}.{bp % 100:02d}%"


async def budget_charts(session: AsyncSession, principal: Principal) -> tuple[list[Chart], list[dict[str, str]]]:
    """One budget-execution chart per budget of the latest fiscal year: the body of GET /reports/budget-execution."""
    if principal.role not in BUDGET_CHART_ROLES:
        return [], []
    budgets, _ = await procurement.list_budgets(session, principal, fiscal_year=None, limit=20, offset=0)
    if not budgets:
        return [], []
    latest = max(b.fiscal_year for b in budgets)
    charts: list[Chart] = []
    kpis: list[dict[str, str]] = []
    for budget in (b for b in budgets if b.fiscal_year == latest):
        report = await procurement_reports.budget_execution(session, principal, budget.id)
        body = {
            "budget_id": report.budget.id,
            "name": report.budget.name,
            "fiscal_year": report.budget.fiscal_year,
            "lines": [line_out(r.line_id or 0, r.code, r.name, r.original_fen, r.figures) for r in report.rows],
            "total": line_out(0, "total", "合计", sum(r.original_fen for r in report.rows), report.total),
        }
        total = report.total
        charts.append(
            Chart(
                f"budget_{budget.id}",
                f"{budget.fiscal_year}年预算执行 · {budget.name}",
                "budget_execution",
                _plain(body),
                f"/api/v1/reports/budget-execution?budget_id={budget.id}",
                note=(
                    f"批复 {web.fen_text(total.appropriation_fen)}，已承诺 {web.fen_text(total.committed_fen)}，"
                    f"已支付 {web.fen_text(total.paid_fen)}；执行率（已支付/批复）{_percent(total.execution_bp)}"
                ),
            )
        )
        kpis.append({"label": f"{budget.fiscal_year}年预算执行率", "value": _percent(total.execution_bp)})
    return charts, kpis


async def fund_charts(session: AsyncSession, principal: Principal) -> tuple[list[Chart], list[dict[str, str]]]:
    """Income by month and channel, and income and spending by purpose, of each fund: GET /reports/fund."""
    if principal.role not in FUND_CHART_ROLES:
        return [], []
    charts: list[Chart] = []
    kpis: list[dict[str, str]] = []
    for fund in await funds.list_funds(session, principal):
        report = _plain(await fund_reports.fund_report(session, principal, fund.id))
        api = f"/api/v1/reports/fund?fund_id={fund.id}"
        if not report["income_by_month"] and not report["spending_by_purpose"]:
            continue
        charts.append(Chart(f"fund_income_{fund.id}", f"{fund.name} · 月度捐赠收入", "fund_income", report, api))
        charts.append(
            Chart(
                f"fund_spending_{fund.id}",
                f"{fund.name} · 按用途收支",
                "fund_spending",
                report,
                api,
                note=(
                    f"余额 {web.fen_text(report['balance_fen'])}（定向 {web.fen_text(report['restricted_balance_fen'])}，"
                    f"非定向 {web.fen_text(report['unrestricted_balance_fen'])}）；手续费 {web.fen_text(report['fees_fen'])}"
                ),
            )
        )
        kpis.append({"label": f"{fund.name}余额", "value": web.fen_text(report["balance_fen"])})
    return charts, kpis


async def charts_for(
    session: AsyncSession, principal: Principal, settings: Settings
) -> tuple[list[Chart], dict[str, Any]]:
    charts: list[Chart] = []
    kpis: dict[str, Any] = {}
    if principal.role in reports.CHILD_REPORT_ROLES:
        cov = _plain(await reports.coverage(session, principal))
        kpis.update(children=cov["children"], open_needs=cov["open_needs"], met_needs=cov["met_needs"])
        kpis["coverage_rate"] = cov["coverage_rate"]
        if cov["by_category"]:
            charts.append(Chart("coverage", "分类需求与供给", "supply_demand", cov, "/api/v1/reports/coverage"))
        ref = _plain(await reports.referrals(session, principal, settings))
        kpis.update(
            median_days_to_accept=ref["median_days_to_accept"],
            median_days_to_close=ref["median_days_to_close"],
            referrals_overdue=ref["overdue"],
        )
        if ref["total"]:
            charts.append(Chart("referrals", "转介漏斗", "referral_funnel", ref, "/api/v1/reports/referrals"))
        late = _plain(await reports.overdue(session, principal, settings))
        kpis["visits_overdue"] = late["visits_overdue"]
        if late["visits_overdue"] or late["referrals_overdue"]:
            charts.append(Chart("overdue", "逾期走访与超时转介", "overdue_by_street", late, "/api/v1/reports/overdue"))
    extra: list[dict[str, str]] = []
    for more, more_kpis in (await budget_charts(session, principal), await fund_charts(session, principal)):
        charts.extend(more)
        extra.extend(more_kpis)
    if extra:
        kpis["extra"] = extra
    return charts, kpis


@get("/", name="console-dashboard")
async def dashboard(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, settings: AppSettings
) -> Response[str]:
    charts, kpis = await charts_for(session, principal, settings)
    return web.render(
        "dashboard.html",
        charts=charts,
        kpis=kpis,
        **web.page_context(request, principal, "dashboard"),
    )


ROUTES = [dashboard]
