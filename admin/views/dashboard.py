"""The dashboard: per role, the charts whose data exists, each built from the same report the API serves."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Request, Response, get
from sqlalchemy.ext.asyncio import AsyncSession

from admin import web
from marketplace.auth.principal import Principal
from marketplace.reports import service as reports
from marketplace.settings import Settings


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


async def _optional_report(module: str, func: str, *args: Any) -> Any:
    """Call a feature's report function when that feature has landed; None when it is not there."""
    if not web.has_module(module):
        return None
    fn = getattr(importlib.import_module(module), func, None)
    if fn is None:
        return None
    return await fn(*args)


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
    return charts, kpis


@get("/", name="console-dashboard")
async def dashboard(
    request: Request[Any, Any, Any], session: AsyncSession, principal: Principal, settings: Settings
) -> Response[str]:
    charts, kpis = await charts_for(session, principal, settings)
    return web.render(
        "dashboard.html",
        charts=charts,
        kpis=kpis,
        **web.page_context(request, principal, "dashboard"),
    )


ROUTES = [dashboard]
