"""Resource-pool moderation: organizations and services waiting for the district, pauses, stale listings."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.params import FromPath, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from admin import web
from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.deps import AppSettings, CurrentUser, DbSession
from marketplace.errors import Forbidden, Invalid
from marketplace.ids import PathId
from marketplace.resources import service as pool
from marketplace.resources.models import Organization, Service
from marketplace.resources.readmodel import ServiceRow
from marketplace.resources.taxonomy import (
    ORGANIZATION_KINDS,
    ORGANIZATION_STATUSES,
    SERVICE_CATEGORIES,
    SERVICE_STATUSES,
)
from marketplace.settings import Settings

TABS = {
    "pending": "待审核服务",
    "organizations": "待审核机构",
    "published": "已发布服务",
    "paused": "已暂停服务",
    "stale": "信息过期",
    "draft": "草稿",
}
SERVICE_ACTIONS = {
    "approve": "通过",
    "reject": "退回",
    "pause": "暂停",
    "resume": "恢复",
    "submit": "提交审核",
    "archive": "归档",
}
ORG_ACTIONS = {"approve": "approved", "suspend": "suspended"}
PAGE = 200


def _readers(principal: Principal) -> None:
    if principal.role not in {"district_admin", "auditor", "org_staff"}:
        raise Forbidden("资源库审核仅限区民政、审计和社会组织 (district, auditors and organizations only)")


async def _all_services(session: AsyncSession, principal: Principal, filters: pool.ServiceFilters) -> list[ServiceRow]:
    found: list[ServiceRow] = []
    while True:
        rows, total, _ = await pool.list_services(session, principal, filters, limit=PAGE, offset=len(found))
        found.extend(rows)
        if not rows or len(found) >= total:
            return found


def _service_row(service: Service | ServiceRow, settings: Settings, principal: Principal) -> dict[str, Any]:
    owner = principal.role == "org_staff" and principal.organization_id == service.organization_id
    if principal.role == "district_admin":
        may = pool.DISTRICT_TRANSITIONS
    elif owner:
        may = pool.OWNER_TRANSITIONS
    else:
        may = frozenset()
    allowed = [a for a in pool.SERVICE_LIFECYCLE.allowed(service.status) if a in may and a != "archive"]
    today = clock.today()
    return {
        "id": service.id,
        "title": service.title,
        "organization": service.organization.name,
        "categories": "、".join(SERVICE_CATEGORIES.get(c, c) for c in service.category_codes),
        "capacity": service.capacity_per_month,
        "status": service.status,
        "status_label": SERVICE_STATUSES.get(service.status, service.status),
        "status_note": service.status_note,
        "assured_on": service.assured_on,
        "days_since_assured": (today - service.assured_on).days if service.assured_on else None,
        "stale": pool.is_stale(service, settings.stale_listing_days, today),
        "actions": [(a, SERVICE_ACTIONS[a]) for a in allowed],
    }


def _org_row(org: Organization, principal: Principal) -> dict[str, Any]:
    actions: list[tuple[str, str]] = []
    if principal.role == "district_admin":
        if org.status in {"pending", "suspended"}:
            actions.append(("approve", "通过入库" if org.status == "pending" else "恢复"))
        if org.status in {"approved", "pending"}:
            actions.append(("suspend", "暂停"))
    return {
        "id": org.id,
        "name": org.name,
        "kind": ORGANIZATION_KINDS.get(org.kind, org.kind),
        "credit_code": org.credit_code,
        "contact": f"{org.contact_name} {org.contact_phone}",
        "status": org.status,
        "status_label": ORGANIZATION_STATUSES.get(org.status, org.status),
        "created_at": org.created_at,
        "actions": actions,
    }


async def _tab_rows(
    session: AsyncSession, principal: Principal, settings: Settings, tab: str
) -> tuple[list[dict[str, Any]], str]:
    """The rows of one tab and whether they are services or organizations."""
    if tab == "organizations":
        orgs: list[Organization] = []
        for status in ("pending", "suspended"):
            rows, _ = await pool.list_organizations(session, principal, status=status, limit=PAGE)
            orgs.extend(rows)
        return [_org_row(o, principal) for o in orgs], "org"
    status = {
        "pending": "pending_review",
        "published": "published",
        "paused": "paused",
        "stale": "published",
        "draft": "draft",
    }[tab]
    own = principal.organization_id if principal.role == "org_staff" else None
    services = await _all_services(session, principal, pool.ServiceFilters(status=status, organization_id=own))
    service_rows = [_service_row(s, settings, principal) for s in services]
    if tab == "stale":
        # Oldest confirmation first; a listing never confirmed at all heads the list.
        service_rows = sorted(
            (r for r in service_rows if r["stale"]),
            key=lambda r: -(10**6 if r["days_since_assured"] is None else r["days_since_assured"]),
        )
    return service_rows, "service"


@get("/pool", name="console-pool")
async def pool_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    tab: Annotated[str, QueryParameter(max_length=20)] = "pending",
) -> Response[str]:
    _readers(principal)
    if tab not in TABS:
        raise Invalid.field("tab", "未知的标签页 (unknown tab)")
    counts: dict[str, int] = {}
    for key in TABS:
        counts[key] = len((await _tab_rows(session, principal, settings, key))[0])
    rows, kind = await _tab_rows(session, principal, settings, tab)
    return web.render(
        "pool.html",
        tabs=TABS,
        tab=tab,
        counts=counts,
        rows=rows,
        kind=kind,
        stale_days=settings.stale_listing_days,
        **web.page_context(request, principal, "pool"),
    )


def _after_action(request: Request[Any, Any, Any], template: str, back: str, **context: Any) -> Response[str]:
    if web.is_htmx(request):
        return web.render(template, **context)
    # Without JavaScript the plain form posts and comes back to the tab it was sent from.
    return Response(content="", status_code=303, headers={"location": back, **web.SECURITY_HEADERS})


def _back(form: dict[str, str]) -> str:
    tab = form.get("tab", "pending")
    return f"/admin/pool?tab={tab if tab in TABS else 'pending'}"


@post("/pool/services/{service_id:int}/{action:str}", name="console-service-action")
async def service_action(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    service_id: PathId,
    action: FromPath[str],
    form: web.ConsoleForm,
) -> Response[str]:
    if action not in SERVICE_ACTIONS:
        raise Invalid.field("action", "未知操作 (unknown action)")
    reason = form.get("reason", "").strip()
    if action == "reject" and not reason:
        raise Invalid.field("reason", "退回时请填写原因 (a reason is required to reject)")
    if len(reason) > 500:
        raise Invalid.field("reason", "原因不超过500字 (reason too long)")
    service = await pool.transition_service(session, principal, service_id, action, reason)
    message = f"“{service.title}”已{SERVICE_ACTIONS[action]}"
    return _after_action(
        request,
        "_service_row.html",
        _back(form),
        row=_service_row(service, settings, principal),
        tab=form.get("tab", "pending"),
        csrf=web.csrf_token(request),
        flash=message,
    )


@post("/pool/organizations/{org_id:int}/{action:str}", name="console-organization-action")
async def organization_action(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    org_id: PathId,
    action: FromPath[str],
    form: web.ConsoleForm,
) -> Response[str]:
    if action not in ORG_ACTIONS:
        raise Invalid.field("action", "未知操作 (unknown action)")
    org = await pool.set_organization_status(session, principal, org_id, ORG_ACTIONS[action])
    return _after_action(
        request,
        "_org_row.html",
        _back(form),
        row=_org_row(org, principal),
        tab=form.get("tab", "organizations"),
        csrf=web.csrf_token(request),
        flash=f"“{org.name}”已{'通过入库' if action == 'approve' else '暂停'}",
    )


ROUTES = [pool_page, service_action, organization_action]
