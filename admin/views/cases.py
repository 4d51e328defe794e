"""The case board: the children a role may see (a director's community, a supervisor's street, the district),
overdue home visits first and highlighted. Summary fields only: never identity numbers or contact details."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from admin import web
from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.cases import service as cases
from marketplace.cases.models import Child
from marketplace.cases.taxonomy import GENDERS, RISK_LEVELS

PAGE = 100


# Reading children leaves audit rows, so this GET needs the writing session that commits.
@get("/cases", name="console-cases", opt={"writes": True})
async def cases_page(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    principal: Principal,
    page: int = Parameter(query="page", default=1, ge=1, le=10_000),
) -> Response[str]:
    # Both calls apply the cases service's own scope (and raise Forbidden for roles without one); both audit.
    overdue, overdue_total = await cases.overdue_visits(session, principal, street_id=None, limit=PAGE, offset=0)
    children, total = await cases.list_children(
        session, principal, cases.ChildFilters(status="active"), limit=PAGE, offset=(page - 1) * PAGE
    )
    today = clock.today()

    def row(c: Child) -> dict[str, Any]:
        return {
            "id": c.id,
            "name": c.name,
            "gender": GENDERS.get(c.gender, c.gender),
            "age": cases.age_on(c.birth_date, today),
            "risk": RISK_LEVELS.get(c.risk_level, c.risk_level),
            "risk_level": c.risk_level,
            "last_visit_on": c.last_visit_on,
            "next_visit_due": c.next_visit_due,
            "overdue_days": (today - c.next_visit_due).days if c.next_visit_due < today else 0,
        }

    return web.render(
        "cases.html",
        overdue=[row(c) for c in overdue],
        overdue_total=overdue_total,
        children=[row(c) for c in children],
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE)),
        **web.page_context(request, principal, "cases"),
    )


ROUTES = [cases_page]
