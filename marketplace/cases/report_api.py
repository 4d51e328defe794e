"""``/api/v1/mandatory-reports``: mandatory reports (强制报告) as records — made, read, handled, acknowledged,
linked to a file and closed (``cases.reports``)."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, get, post
from litestar.di import Provide
from litestar.params import FromQuery, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.cases import reports
from marketplace.cases.models import MandatoryReport
from marketplace.cases.report_schemas import (
    CloseIn,
    LinkIn,
    MandatoryReportIn,
    PoliceIn,
    ReportList,
    ReportOut,
    StepIn,
)
from marketplace.deps import AppSettings, CurrentUser, DbSession, PageParams
from marketplace.ids import MAX_ID, PathId
from marketplace.pagination import provide_page


async def report_out(session: AsyncSession, report: MandatoryReport, notified: list[int] | None = None) -> ReportOut:
    (out,) = await reports.present(session, [report], {report.id: notified} if notified else None)
    return out


class MandatoryReportController(Controller):
    path = "/api/v1/mandatory-reports"
    tags = ["cases"]
    dependencies = {"page": Provide(provide_page, sync_to_thread=False)}

    @post("/", operation_id="makeMandatoryReport", summary="强制报告（已建档或未建档儿童）")
    async def create(
        self, data: JSONBody[MandatoryReportIn], session: DbSession, principal: CurrentUser, settings: AppSettings
    ) -> ReportOut:
        report, recipients = await reports.create(session, principal, settings, data)
        return await report_out(session, report, recipients)

    @get("/", operation_id="listMandatoryReports", summary="强制报告列表")
    async def list(
        self,
        session: DbSession,
        principal: CurrentUser,
        page: PageParams,
        status: FromQuery[Literal["open", "acknowledged", "closed"] | None] = None,
        child_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
        unlinked: FromQuery[bool | None] = None,
    ) -> ReportList:
        rows, total = await reports.list_reports(
            session,
            principal,
            status=status,
            child_id=child_id,
            unlinked=unlinked,
            limit=page.limit,
            offset=page.offset,
        )
        return ReportList(items=await reports.present(session, rows), total=total)

    @get("/{report_id:int}", operation_id="getMandatoryReport", summary="强制报告详情")
    async def read(self, report_id: PathId, session: DbSession, principal: CurrentUser) -> ReportOut:
        return await report_out(session, await reports.read(session, principal, report_id))

    @post("/{report_id:int}/police", operation_id="recordReportPolice", summary="登记报警信息", status_code=200)
    async def police(
        self, report_id: PathId, data: JSONBody[PoliceIn], session: DbSession, principal: CurrentUser
    ) -> ReportOut:
        return await report_out(session, await reports.record_police(session, principal, report_id, data))

    @post("/{report_id:int}/steps", operation_id="addReportStep", summary="登记应急处置步骤", status_code=200)
    async def step(
        self, report_id: PathId, data: JSONBody[StepIn], session: DbSession, principal: CurrentUser
    ) -> ReportOut:
        return await report_out(session, await reports.add_step(session, principal, report_id, data))

    @post("/{report_id:int}/acknowledge", operation_id="acknowledgeMandatoryReport", summary="签收", status_code=200)
    async def acknowledge(self, report_id: PathId, session: DbSession, principal: CurrentUser) -> ReportOut:
        return await report_out(session, await reports.acknowledge(session, principal, report_id))

    @post("/{report_id:int}/link", operation_id="linkMandatoryReport", summary="关联儿童档案", status_code=200)
    async def link(
        self,
        report_id: PathId,
        data: JSONBody[LinkIn],
        session: DbSession,
        principal: CurrentUser,
        settings: AppSettings,
    ) -> ReportOut:
        return await report_out(session, await reports.link(session, principal, settings, report_id, data))

    @post("/{report_id:int}/close", operation_id="closeMandatoryReport", summary="办结", status_code=200)
    async def close(
        self, report_id: PathId, session: DbSession, principal: CurrentUser, data: JSONBody[CloseIn | None] = None
    ) -> ReportOut:
        return await report_out(session, await reports.close(session, principal, report_id, data or CloseIn()))
