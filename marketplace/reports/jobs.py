"""Report exports that run as background tasks, with progress a browser can poll."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer

from marketplace import clock, outbox, tasks
from marketplace.auth.models import User
from marketplace.auth.principal import Principal
from marketplace.auth.service import principal_of
from marketplace.db import Database
from marketplace.errors import Invalid, NotFound
from marketplace.geography.models import Street
from marketplace.reports import exports
from marketplace.reports import service as reports
from marketplace.reports.models import ExportJob
from marketplace.settings import Settings

log = logging.getLogger("marketplace.reports")

TOPIC = "reports.export"
EXPORT_KINDS: dict[str, str] = {
    "quarterly_all": "季度工作调度（逐街道）",
    "coverage_all": "供需覆盖（逐街道）",
    "ranking": "街道年度排名",
}
JOB_STATUSES: dict[str, str] = {
    "queued": "排队中",
    "running": "生成中",
    "done": "已完成",
    "failed": "失败",
    "expired": "已过期删除",
}


def _year(params: dict[str, Any]) -> int:
    year = params.get("year")
    if not isinstance(year, int) or not 2000 <= year <= 2100:
        raise Invalid.field("params.year", "年份应在 2000-2100 之间 (year out of range)")
    return year


def _quarter(params: dict[str, Any]) -> int:
    quarter = params.get("quarter")
    if quarter not in (1, 2, 3, 4):
        raise Invalid.field("params.quarter", "季度应为 1-4 (quarter must be 1..4)")
    assert isinstance(quarter, int)
    return quarter


def _clean_params(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    if kind == "quarterly_all":
        return {"year": _year(params), "quarter": _quarter(params)}
    if kind == "ranking":
        return {"year": _year(params)}
    return {}


async def create_export(
    session: AsyncSession, principal: Principal, kind: str, fmt: str, params: dict[str, Any]
) -> ExportJob:
    if kind not in EXPORT_KINDS:
        raise Invalid.field("kind", f"未知的导出类型 (unknown export kind; one of {', '.join(EXPORT_KINDS)})")
    if fmt not in exports.FORMATS:
        raise Invalid.field("format", "格式应为 csv 或 xlsx (format must be csv or xlsx)")
    clean = _clean_params(kind, params)
    # Check the caller may read this report now, not only when the task runs.
    reports.report_scope(principal)
    job = ExportJob(kind=kind, format=fmt, params=clean, status="queued", created_by=principal.user_id)
    session.add(job)
    await session.flush()
    outbox.emit(session, TOPIC, {"job_id": job.id})
    return job


async def get_export(
    session: AsyncSession, principal: Principal, job_id: int, *, with_content: bool = False
) -> ExportJob:
    stmt = select(ExportJob).where(ExportJob.id == job_id)
    if with_content:
        stmt = stmt.options(undefer(ExportJob.content_sealed))
    job = await session.scalar(stmt)
    # Exports hold children's aggregates scoped to whoever asked: only they may see or fetch the file.
    if job is None or job.created_by != principal.user_id:
        raise NotFound(f"导出任务 {job_id} 不存在 (export not found)")
    return job


async def list_exports(session: AsyncSession, principal: Principal, limit: int = 20) -> list[ExportJob]:
    rows = await session.scalars(
        select(ExportJob).where(ExportJob.created_by == principal.user_id).order_by(ExportJob.id.desc()).limit(limit)
    )
    return list(rows.all())


async def starters(session: AsyncSession, rows: list[ExportJob]) -> dict[int, str]:
    """Who started each export (their real name), by user id."""
    ids = {j.created_by for j in rows if j.created_by is not None}
    if not ids:
        return {}
    found = await session.execute(select(User.id, User.display_name).where(User.id.in_(ids)))
    return {int(i): str(n) for i, n in found.all()}


Step = Callable[[], Awaitable[list[exports.Sheet]]]


async def _plan(session: AsyncSession, principal: Principal, settings: Settings, job: ExportJob) -> list[Step]:
    """The export's steps (one per street where it splits): progress is steps done over steps planned."""
    scope = reports.report_scope(principal)
    street_rows = (await session.execute(select(Street.id, Street.name).order_by(Street.id))).all()
    street_ids = [sid for sid, _ in street_rows if scope.street_id in (None, sid)]
    params = job.params
    if job.kind == "ranking":

        async def ranking() -> list[exports.Sheet]:
            return exports.ranking_sheets(await reports.street_ranking(session, principal, settings, params["year"]))

        return [ranking]
    steps: list[Step] = []
    for sid in street_ids:
        if job.kind == "quarterly_all":

            async def quarter(sid: int = sid) -> list[exports.Sheet]:
                data = await reports.quarterly(session, principal, settings, params["year"], params["quarter"], sid)
                return exports.quarterly_sheets(data, prefix=f"{data['street_name']}-")

            steps.append(quarter)
        else:

            async def cover(sid: int = sid) -> list[exports.Sheet]:
                data = await reports.coverage(session, principal, sid)
                sheets = exports.coverage_sheets(data)
                return [dataclasses.replace(s, title=f"{data['street_name']}-{s.title}") for s in sheets]

            steps.append(cover)
    return steps


def _filename(job: ExportJob) -> str:
    p = job.params
    suffix = {"quarterly_all": f"{p.get('year')}Q{p.get('quarter')}", "ranking": f"{p.get('year')}"}.get(job.kind, "")
    return f"{job.kind}-{suffix or clock.today().isoformat()}-{job.id}.{job.format}"


async def run_export(session: AsyncSession, job_id: int, settings: Settings) -> None:
    """Build the file, committing progress after each step so pollers see it move. Safe to run twice."""
    job = await session.get(ExportJob, job_id)
    if job is None or job.status in {"done", "failed"}:
        return
    user = await session.get(User, job.created_by)
    try:
        if user is None or not user.is_active:
            raise NotFound("导出任务的发起人已停用 (the requesting account is disabled)")
        principal = principal_of(user)
        steps = await _plan(session, principal, settings, job)
        job.status, job.started_at = "running", clock.now()
        job.steps_total, job.steps_done = max(1, len(steps)), 0
        await session.commit()
        sheets: list[exports.Sheet] = []
        for step in steps:
            sheets.extend(await step())
            job.steps_done += 1
            await session.commit()
        content = exports.render(sheets, job.format)
    except Exception as exc:
        await session.rollback()
        job = await session.get(ExportJob, job_id)
        if job is None:
            return
        log.exception("export %s failed", job_id)
        job.status, job.error, job.finished_at = "failed", str(getattr(exc, "detail", exc))[:2000], clock.now()
        return
    job.content, job.size_bytes = content, len(content)
    job.content_type = exports.FORMATS[job.format]
    job.filename = _filename(job)
    job.steps_done = job.steps_total
    job.status, job.finished_at = "done", clock.now()


async def expire_exports(session: AsyncSession, settings: Settings) -> list[int]:
    """Delete the files of the exports finished more than ``export_retention_hours`` ago (the job stays, marked
    ``expired``, so its starter sees what happened); the ids of the jobs expired."""
    cutoff = clock.now() - dt.timedelta(hours=settings.export_retention_hours)
    ids = list(
        (
            await session.scalars(
                select(ExportJob.id)
                .where(ExportJob.status == "done", ExportJob.finished_at < cutoff)
                .order_by(ExportJob.id)
            )
        ).all()
    )
    if ids:
        await session.execute(
            update(ExportJob)
            .where(ExportJob.id.in_(ids))
            .values(content_sealed=None, size_bytes=0, status="expired")
            .execution_options(synchronize_session=False)
        )
    return ids


@tasks.job("reports.expire_exports")
async def expire_exports_job(db: Database) -> list[int]:
    """Report exports' files deleted once past MARKETPLACE_EXPORT_RETENTION_HOURS."""
    async with db.session() as session:
        expired = await expire_exports(session, db.settings)
    if expired:
        log.info("report exports expired: %s", expired)
    return expired
