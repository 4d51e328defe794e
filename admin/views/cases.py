"""The case board: the children a role may see (a director's community, a supervisor's street, the district),
overdue home visits first and highlighted. Summary fields only: never identity numbers or contact details.

``?child=<id>`` opens one child's entry (kept for links made before; the boards now link a child to its file,
``/admin/children/<id>``): the summary, the child's closed-loop
timeline (the six Yuzhong stages, reached ones highlighted, and every event labelled by its stage) and the child's
referrals."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.params import QueryParameter
from sqlalchemy import Row

from admin import web
from admin.views import referrals as board
from marketplace import clock
from marketplace.audit import service as audit
from marketplace.cases import service as cases
from marketplace.cases.models import Child
from marketplace.cases.taxonomy import GENDERS, RISK_LEVELS
from marketplace.deps import AppSettings, CurrentUser, DbSession
from marketplace.ids import MAX_ID
from marketplace.referrals import service as referrals
from marketplace.referrals import timeline

PAGE = 100


def _row(c: Child | Row[Any]) -> dict[str, Any]:
    today = clock.today()
    return {
        "id": c.id,
        "name": c.name,
        "gender": GENDERS.get(c.gender, c.gender),
        "age": cases.age_on(c.birth_date, today),
        "risk": RISK_LEVELS.get(c.risk_level, c.risk_level),
        "risk_level": c.risk_level,
        "status": c.status,
        "last_visit_on": c.last_visit_on,
        "next_visit_due": c.next_visit_due,
        "overdue_days": (today - c.next_visit_due).days if c.status == "active" and c.next_visit_due < today else 0,
    }


# Reading children leaves audit rows: a read session whose rows the app's audit writer commits before the page is sent.
@get("/cases", name="console-cases")
async def cases_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    page: Annotated[int, QueryParameter(ge=1, le=10_000)] = 1,
    child: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
) -> Response[str]:
    focus: dict[str, Any] | None = None
    if child is not None:
        # The cases service's scope: a child outside it is "not found", whether or not it exists.
        found = await cases.visible_child(session, principal, child)
        await audit.record_read(session, principal, "read", "child", [found.id], list(cases.SUMMARY_FIELDS))
        events = await timeline.events_of(session, found)
        # As the timeline endpoint does: one read row naming it.
        await audit.record_read(session, principal, "read", "child", [found.id], ["timeline"])
        focus = {
            "child": _row(found),
            "stages": timeline.stages_of(events),
            "events": [timeline.out(e) for e in events],
            "referrals": await _referrals_of(session, principal, settings, found.id),
        }
    # Both calls apply the cases service's own scope (and raise Forbidden for roles without one); both audit.
    overdue, overdue_total = await cases.overdue_visits(session, principal, street_id=None, limit=PAGE, offset=0)
    children, total = await cases.list_children(
        session, principal, cases.ChildFilters(status="active"), limit=PAGE, offset=(page - 1) * PAGE
    )
    return web.render(
        "cases.html",
        focus=focus,
        overdue=[_row(c) for c in overdue],
        overdue_total=overdue_total,
        children=[_row(c) for c in children],
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE)),
        **web.page_context(request, principal, "cases"),
    )


async def _referrals_of(session: Any, principal: Any, settings: Any, child_id: int) -> list[dict[str, Any]]:
    found, _ = await referrals.list_referrals(
        session, principal, status=None, organization_id=None, need_id=None, child_id=child_id, limit=100, offset=0
    )
    return await board.rows_for(session, principal, settings, found, "child")


ROUTES = [cases_page]
