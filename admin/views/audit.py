"""The audit log for the district and auditors: who read or changed which protected record, newest first."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.params import QueryParameter

from admin import web
from marketplace.audit import service as audit
from marketplace.audit import verification
from marketplace.deps import CurrentUser, Db, DbSession

PAGE = 50


@get("/audit", name="console-audit")
async def audit_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    page: Annotated[int, QueryParameter(ge=1, le=100_000)] = 1,
    entity: Annotated[str | None, QueryParameter(max_length=40)] = None,
) -> Response[str]:
    filters = audit.AuditFilters(entity=entity or None)
    rows, total = await audit.list_entries(session, principal, filters, limit=PAGE, offset=(page - 1) * PAGE)
    return web.render(
        "audit.html",
        entries=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE)),
        entity=entity or "",
        **web.page_context(request, principal, "audit"),
    )


PROBLEMS = {
    "prev_hash": "前一行缺失或被插入",
    "hash": "本行内容被改动",
    "anchor": "上次核验过的行已缺失或被改写",
}
TABLES = {"audit_log": "审计日志", "journal_entries": "总账分录", "ledger_postings": "分录明细"}
TRIGGERS = {"cli": "命令行", "job": "每夜任务", "console": "控制台"}


@get("/audit/verify", name="console-audit-verify")
async def verify_page(request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser) -> Response[str]:
    """The hash chains' verifications, newest first: the last one's result per chain, and (for the district) a
    button to run one now."""
    runs = await verification.latest(session, principal)
    return web.render(
        "audit_verify.html",
        runs=runs,
        last=runs[0] if runs else None,
        may_run=principal.role in verification.RUNNERS,
        problems=PROBLEMS,
        tables=TABLES,
        triggers=TRIGGERS,
        **web.page_context(request, principal, "audit"),
    )


# A read-only request: the walk reads in its own read transaction and the run is recorded in a short write
# transaction of its own (no write lock held while the chains are checked).
@post("/audit/verify", name="console-audit-verify-run", opt={"read_only": True})
async def verify_now(principal: CurrentUser, db: Db, form: web.ConsoleForm) -> Response[str]:
    await verification.run(db, trigger="console", principal=principal)
    return Response(content="", status_code=303, headers={"location": "/admin/audit/verify", **web.SECURITY_HEADERS})


ROUTES = [audit_page, verify_page, verify_now]
