"""The mandatory report board (强制报告): the reports a role may read (a director's community, a supervisor's
street, the district and the auditor), newest first, with the police receipt and each acknowledgement's state,
an overdue one highlighted. The street's supervisor and the district acknowledge from here.

Everything goes through ``cases.reports``: its scope decides what a role sees and its reads write the audit rows
(a report is children's data; a linked one names the child)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.params import QueryParameter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from admin import web
from marketplace.auth.principal import Principal
from marketplace.cases import reports
from marketplace.cases.models import Child, MandatoryReport
from marketplace.cases.report_schemas import ReportOut
from marketplace.cases.taxonomy import REPORT_STATUSES
from marketplace.deps import CurrentUser, DbSession
from marketplace.errors import Invalid
from marketplace.geography.models import Community
from marketplace.ids import PathId

PAGE = 50
TITLES = {
    "child_director": "本社区强制报告",
    "child_supervisor": "本街道强制报告",
    "district_admin": "全区强制报告",
    "auditor": "全区强制报告",
}


def _may_acknowledge(principal: Principal, r: ReportOut) -> str | None:
    """The level this caller acknowledges at, if it is still open for them."""
    if r.status == "closed":
        return None
    supervisor, district = r.acknowledgements
    if principal.role == "child_supervisor" and principal.street_id == r.street_id and supervisor.at is None:
        return "supervisor"
    if principal.role == "district_admin" and district.at is None:
        return "district"
    return None


async def _rows(session: AsyncSession, principal: Principal, found: list[MandatoryReport]) -> list[dict[str, Any]]:
    shown = await reports.present(session, found)
    child_ids = {r.child_id for r in shown if r.child_id is not None}
    names: dict[int, str] = {}
    if child_ids:
        # Children of reports already in the caller's scope (a linked report sits in its child's community).
        names = {i: n for i, n in (await session.execute(select(Child.id, Child.name).where(Child.id.in_(child_ids))))}
    community_ids = {r.community_id for r in shown}
    communities = {
        i: n
        for i, n in await session.execute(select(Community.id, Community.name).where(Community.id.in_(community_ids)))
    }
    return [
        {
            "id": r.id,
            "kind": r.kind_label,
            "child_id": r.child_id,
            "child": names.get(r.child_id) if r.child_id is not None else None,
            "subject": r.subject_name or r.subject_description,
            "place": r.place,
            "community": communities.get(r.community_id, ""),
            "created_at": r.created_at,
            "police": r.police,
            "police_notified": r.police_notified,
            "status": r.status,
            "status_label": r.status_label,
            "acks": r.acknowledgements,
            "overdue": any(a.overdue for a in r.acknowledgements),
            "steps": len(r.steps),
            "may_acknowledge": _may_acknowledge(principal, r),
        }
        for r in shown
    ]


@get("/mandatory-reports", name="console-mandatory-reports")
async def reports_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    page: Annotated[int, QueryParameter(ge=1, le=10_000)] = 1,
    status: Annotated[str | None, QueryParameter(max_length=20)] = None,
) -> Response[str]:
    if status and status not in REPORT_STATUSES:
        raise Invalid.field("status", f"未知状态 {status} (unknown status)")
    # The service applies the caller's scope (403 for roles without children's data) and writes the audit rows.
    found, total = await reports.list_reports(
        session, principal, status=status or None, limit=PAGE, offset=(page - 1) * PAGE
    )
    return web.render(
        "mandatory_reports.html",
        title=TITLES.get(principal.role, "强制报告"),
        rows=await _rows(session, principal, found),
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE)),
        status=status or "",
        statuses=REPORT_STATUSES,
        **web.page_context(request, principal, "mandatory_reports"),
    )


@post("/mandatory-reports/{report_id:int}/acknowledge", name="console-mandatory-report-acknowledge")
async def acknowledge(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    report_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    await reports.acknowledge(session, principal, report_id)
    return Response(
        content="", status_code=303, headers={"location": "/admin/mandatory-reports", **web.SECURITY_HEADERS}
    )


ROUTES = [reports_page, acknowledge]
