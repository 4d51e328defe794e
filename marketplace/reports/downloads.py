"""A report as a CSV or XLSX attachment: one function per report, used by the API's ``?format=`` and by the
console's download links, so both hand out the same sheets under the same file name."""

from __future__ import annotations

from litestar import Response
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock, tabular
from marketplace.auth.principal import Principal
from marketplace.funds import reports as fund_reports
from marketplace.procurement import reports as budget_reports
from marketplace.reports import exports
from marketplace.reports import service as reports
from marketplace.settings import Settings


async def coverage(session: AsyncSession, principal: Principal, street_id: int | None, fmt: str) -> Response[bytes]:
    data = await reports.coverage(session, principal, street_id)
    return tabular.download(exports.coverage_sheets(data), fmt, f"coverage-{street_id or 'district'}-{clock.today()}")


async def referrals(
    session: AsyncSession, principal: Principal, settings: Settings, street_id: int | None, fmt: str
) -> Response[bytes]:
    data = await reports.referrals(session, principal, settings, street_id)
    return tabular.download(exports.referrals_sheets(data), fmt, f"referrals-{street_id or 'district'}-{clock.today()}")


async def overdue(
    session: AsyncSession, principal: Principal, settings: Settings, street_id: int | None, fmt: str
) -> Response[bytes]:
    data = await reports.overdue(session, principal, settings, street_id)
    return tabular.download(exports.overdue_sheets(data), fmt, f"overdue-{street_id or 'district'}-{clock.today()}")


async def quarterly(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    year: int,
    quarter: int,
    street_id: int | None,
    fmt: str,
) -> Response[bytes]:
    data = await reports.quarterly(session, principal, settings, year, quarter, street_id)
    return tabular.download(
        exports.quarterly_sheets(data), fmt, f"quarterly-{year}Q{quarter}-{street_id or 'district'}"
    )


async def street_ranking(
    session: AsyncSession, principal: Principal, settings: Settings, year: int, fmt: str
) -> Response[bytes]:
    data = await reports.street_ranking(session, principal, settings, year)
    return tabular.download(exports.ranking_sheets(data), fmt, f"street-ranking-{year}")


async def budget_execution(session: AsyncSession, principal: Principal, budget_id: int, fmt: str) -> Response[bytes]:
    report = await budget_reports.budget_execution(session, principal, budget_id)
    return budget_reports.execution_download(report, fmt)


async def fund(session: AsyncSession, principal: Principal, fund_id: int, fmt: str) -> Response[bytes]:
    """The fund report (``GET /api/v1/reports/fund?format=``): the same sheet under the same name."""
    report = await fund_reports.fund_report(session, principal, fund_id)
    return tabular.download([fund_reports.report_sheet(report)], fmt, f"fund-{fund_id}-report")
