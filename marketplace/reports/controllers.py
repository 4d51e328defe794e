from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Response, get, post
from litestar.params import JSONBody, QueryParameter

from marketplace import tabular
from marketplace.deps import AppSettings, CurrentUser, DbSession
from marketplace.errors import Conflict
from marketplace.ids import MAX_ID, PathId
from marketplace.reports import downloads, exports, jobs
from marketplace.reports import service as reports
from marketplace.reports.duplicate_aid_api import DuplicateAidController
from marketplace.reports.models import ExportJob
from marketplace.reports.schemas import ExportIn, ExportOut

FormatParam = QueryParameter(max_length=10, description="json（默认）、csv 或 xlsx")
# The reports come as JSON, or as CSV or XLSX with ?format=
SPREADSHEETS = tabular.downloads(*tabular.FORMATS.values())


def export_out(job: ExportJob) -> ExportOut:
    return ExportOut(
        id=job.id,
        kind=job.kind,
        kind_label=jobs.EXPORT_KINDS.get(job.kind, job.kind),
        format=job.format,
        params=dict(job.params),
        status=job.status,
        status_label=jobs.JOB_STATUSES.get(job.status, job.status),
        steps_done=job.steps_done,
        steps_total=job.steps_total,
        progress=100 if job.status == "done" else int(100 * job.steps_done / max(1, job.steps_total)),
        filename=job.filename,
        size_bytes=job.size_bytes,
        error=job.error,
        created_at=job.created_at,
        finished_at=job.finished_at,
        download_url=f"/api/v1/reports/exports/{job.id}/download" if job.status == "done" else None,
    )


class ReportController(Controller):
    path = "/api/v1/reports"
    tags = ["reports"]

    @get(
        "/coverage",
        operation_id="reportCoverage",
        summary="供需覆盖：儿童、需求与分类供给",
        operation_class=SPREADSHEETS,
    )
    async def coverage(
        self,
        session: DbSession,
        principal: CurrentUser,
        street_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
        format: Annotated[str | None, FormatParam] = None,
    ) -> Any:
        fmt = exports.check_format(format)
        if fmt:
            return await downloads.coverage(session, principal, street_id, fmt)
        return await reports.coverage(session, principal, street_id)

    @get(
        "/referrals",
        operation_id="reportReferrals",
        summary="转介统计：状态、接收与结案时长、超时",
        operation_class=SPREADSHEETS,
    )
    async def referrals(
        self,
        session: DbSession,
        principal: CurrentUser,
        settings: AppSettings,
        street_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
        format: Annotated[str | None, FormatParam] = None,
    ) -> Any:
        fmt = exports.check_format(format)
        if fmt:
            return await downloads.referrals(session, principal, settings, street_id, fmt)
        return await reports.referrals(session, principal, settings, street_id)

    @get("/overdue", operation_id="reportOverdue", summary="逾期走访与超时转介（按街道）", operation_class=SPREADSHEETS)
    async def overdue(
        self,
        session: DbSession,
        principal: CurrentUser,
        settings: AppSettings,
        street_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
        format: Annotated[str | None, FormatParam] = None,
    ) -> Any:
        fmt = exports.check_format(format)
        if fmt:
            return await downloads.overdue(session, principal, settings, street_id, fmt)
        return await reports.overdue(session, principal, settings, street_id)

    @get("/quarterly", operation_id="reportQuarterly", summary="每季度工作调度报告", operation_class=SPREADSHEETS)
    async def quarterly(
        self,
        session: DbSession,
        principal: CurrentUser,
        settings: AppSettings,
        year: Annotated[int, QueryParameter(ge=2000, le=2100)],
        quarter: Annotated[int, QueryParameter(ge=1, le=4)],
        street_id: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
        format: Annotated[str | None, FormatParam] = None,
    ) -> Any:
        fmt = exports.check_format(format)
        if fmt:
            return await downloads.quarterly(session, principal, settings, year, quarter, street_id, fmt)
        return await reports.quarterly(session, principal, settings, year, quarter, street_id)

    @get(
        "/street-ranking",
        operation_id="reportStreetRanking",
        summary="街道年度赛马比拼排名",
        operation_class=SPREADSHEETS,
    )
    async def street_ranking(
        self,
        session: DbSession,
        principal: CurrentUser,
        settings: AppSettings,
        year: Annotated[int, QueryParameter(ge=2000, le=2100)],
        format: Annotated[str | None, FormatParam] = None,
    ) -> Any:
        fmt = exports.check_format(format)
        if fmt:
            return await downloads.street_ranking(session, principal, settings, year, fmt)
        return await reports.street_ranking(session, principal, settings, year)

    @post("/exports", operation_id="createReportExport", summary="后台导出报表（返回任务与进度）", status_code=202)
    async def create_export(self, data: JSONBody[ExportIn], session: DbSession, principal: CurrentUser) -> ExportOut:
        job = await jobs.create_export(session, principal, data.kind, data.format, data.params)
        return export_out(job)

    @get("/exports", operation_id="listReportExports", summary="我的导出任务")
    async def list_exports(self, session: DbSession, principal: CurrentUser) -> dict[str, Any]:
        rows = await jobs.list_exports(session, principal)
        return {"items": [export_out(j) for j in rows], "total": len(rows)}

    @get("/exports/{job_id:int}", operation_id="getReportExport", summary="导出任务进度")
    async def get_export(self, job_id: PathId, session: DbSession, principal: CurrentUser) -> ExportOut:
        return export_out(await jobs.get_export(session, principal, job_id))

    @get(
        "/exports/{job_id:int}/download",
        operation_id="downloadReportExport",
        summary="下载导出文件",
        operation_class=tabular.downloads(*tabular.FORMATS.values(), json=False),
    )
    async def download(self, job_id: PathId, session: DbSession, principal: CurrentUser) -> Response[bytes]:
        job = await jobs.get_export(session, principal, job_id, with_content=True)
        if job.status == "expired":
            raise Conflict(
                "导出文件已过保留期删除，请重新导出 (the export's file was deleted after its retention period)",
                status_label=jobs.JOB_STATUSES["expired"],
            )
        if job.status != "done" or job.content is None:
            raise Conflict("导出尚未完成 (export not ready)", status_label=jobs.JOB_STATUSES.get(job.status))
        return tabular.file_response(job.content, job.content_type, job.filename)


ROUTES = [ReportController, DuplicateAidController]
