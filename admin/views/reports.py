"""Reports in the console: the quarterly dispatch and street ranking on screen, and exports with live progress."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.params import QueryParameter

from admin import web
from marketplace import clock
from marketplace.deps import AppSettings, CurrentUser, DbSession
from marketplace.errors import Invalid
from marketplace.ids import PathId
from marketplace.reports import jobs
from marketplace.reports import service as reports
from marketplace.reports.controllers import export_out
from marketplace.reports.exports import PROGRESS_LABELS


def _plain(value: Any) -> Any:
    return msgspec.json.decode(msgspec.json.encode(value))


@get("/reports", name="console-reports")
async def reports_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    year: Annotated[int | None, QueryParameter(ge=2000, le=2100)] = None,
    quarter: Annotated[int | None, QueryParameter(ge=1, le=4)] = None,
) -> Response[str]:
    today = clock.today()
    year = year or today.year
    quarter = quarter or (today.month - 1) // 3 + 1
    dispatch = _plain(await reports.quarterly(session, principal, settings, year, quarter))
    ranking = _plain(await reports.street_ranking(session, principal, settings, year))
    exports_list = [export_out(j) for j in await jobs.list_exports(session, principal, limit=10)]
    return web.render(
        "reports.html",
        year=year,
        quarter=quarter,
        dispatch=dispatch,
        ranking=ranking,
        exports=exports_list,
        kinds=jobs.EXPORT_KINDS,
        progress_labels=_progress_labels(),
        **web.page_context(request, principal, "reports"),
    )


def _progress_labels() -> dict[str, str]:
    return PROGRESS_LABELS


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
    params = {k: v for k, v in {"year": _int(form, "year"), "quarter": _int(form, "quarter")}.items() if v is not None}
    job = await jobs.create_export(session, principal, form.get("kind", ""), form.get("format", "xlsx"), params)
    return web.render("_export.html", job=export_out(job), status_code=202)


@get("/exports/{job_id:int}", name="console-export-progress")
async def export_progress(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, job_id: PathId
) -> Response[str]:
    return web.render("_export.html", job=export_out(await jobs.get_export(session, principal, job_id)))


@get("/exports/{job_id:int}/download", name="console-export-download")
async def export_download(session: DbSession, principal: CurrentUser, job_id: PathId) -> Response[bytes]:
    job = await jobs.get_export(session, principal, job_id, with_content=True)
    if job.status != "done" or job.content is None:
        raise Invalid("导出尚未完成 (export not ready)")
    return Response(
        content=job.content,
        media_type=job.content_type,
        headers={"content-disposition": f'attachment; filename="{job.filename}"', **web.SECURITY_HEADERS},
    )


ROUTES = [reports_page, create_export, export_progress, export_download]
