"""Resource-pool moderation: organizations and services waiting for the district, pauses, stale listings, and the
changes organizations propose to published services (服务修改: approve, or return with a reason)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.params import FromPath, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from admin import web
from admin.views import accountforms as forms
from admin.views.services import revision_view, street_names
from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.deps import AppSettings, CurrentUser, DbSession
from marketplace.errors import Forbidden, Invalid
from marketplace.ids import PathId
from marketplace.resources import revisions
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
    "revisions": "服务修改",
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
REVISION_ACTIONS = {"approve": "通过", "return": "退回"}
# Service revisions are the owning organization's and the district's only (an auditor does not see the tab).
REVISION_READERS = frozenset({"district_admin", "org_staff"})
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
    """The rows of one tab and whether they are services, organizations or service revisions."""
    if tab == "revisions":
        waiting, _ = await revisions.list_revisions(session, principal, status="pending_review", limit=PAGE)
        streets = await street_names(session)
        return [revision_view(r, principal, streets) for r in waiting], "revision"
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
    if status in pool.REVISED_STATUSES and principal.role in REVISION_READERS:
        # A live listing with a change waiting for review says so beside it.
        open_ones = await revisions.open_revision_ids(session, [s.id for s in services])
        for row in service_rows:
            found = open_ones.get(row["id"])
            row["revision_waiting"] = found is not None and found.status == "pending_review"
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
    tabs = _tabs(principal)
    if tab not in tabs:
        raise Invalid.field("tab", "未知的标签页 (unknown tab)")
    return await _pool_page(request, session, principal, settings, tab)


def _tabs(principal: Principal) -> dict[str, str]:
    return {k: v for k, v in TABS.items() if k != "revisions" or principal.role in REVISION_READERS}


async def _pool_page(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    tab: str,
    *,
    replace: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response[str]:
    tabs = _tabs(principal)
    counts: dict[str, int] = {}
    for key in tabs:
        counts[key] = len((await _tab_rows(session, principal, settings, key))[0])
    rows, kind = await _tab_rows(session, principal, settings, tab)
    if replace is not None:  # a refused form shown again in its place, with the message and what was typed
        rows = [replace if r["id"] == replace["id"] else r for r in rows]
    return web.render(
        "pool.html",
        status_code=status_code,
        tabs=tabs,
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
    if tab == "revisions":
        return "/admin/pool?tab=revisions"
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


@post("/pool/revisions/{service_id:int}/{revision_id:int}/{action:str}", name="console-revision-action")
async def revision_action(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    service_id: PathId,
    revision_id: PathId,
    action: FromPath[str],
    form: web.ConsoleForm,
) -> Response[str]:
    """The district approves a service revision (it goes live) or returns it with a reason (required; a refusal
    shows in place with what was typed, and nothing changes)."""
    if action not in REVISION_ACTIONS:
        raise Invalid.field("action", "未知操作 (unknown action)")
    principal.require("district_admin")
    reason = form.get("reason", "").strip()
    try:
        if action == "return" and not reason:
            raise forms.FormError("退回原因：请填写退回原因，机构将据此修改", "reason")
        if len(reason) > 500:
            raise forms.FormError("退回原因：不超过500字", "reason")
        revision = await revisions.act(session, principal, service_id, revision_id, action, reason)
    except (forms.FormError, *forms.FORM_ERRORS) as exc:
        await forms.abandon(session)
        found = await revisions.read_revision(session, principal, service_id, revision_id)
        view = revision_view(found, principal, await street_names(session), error=forms.error_message(exc))
        view["reason_posted"] = form.get("reason", "")[:500]
        status = forms.error_status(exc)
        if web.is_htmx(request):
            return web.render("_pool_revision.html", status_code=status, revision=view, csrf=web.csrf_token(request))
        return await _pool_page(request, session, principal, settings, "revisions", replace=view, status_code=status)
    view = revision_view(revision, principal, await street_names(session))
    verb = "已通过，新内容已在资源库生效" if action == "approve" else "已退回机构修改"
    return _after_action(
        request,
        "_pool_revision.html",
        "/admin/pool?tab=revisions",
        revision=view,
        csrf=web.csrf_token(request),
        flash=f"“{revision.service.title}”的修改{verb}",
    )


ROUTES = [pool_page, service_action, organization_action, revision_action]
