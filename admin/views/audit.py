"""The audit log for the district and auditors: who read or changed which protected record, newest first."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.params import QueryParameter

from admin import web
from marketplace.audit import service as audit
from marketplace.deps import CurrentUser, DbSession

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


ROUTES = [audit_page]
