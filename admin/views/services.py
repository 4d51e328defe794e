"""An organization's own service projects (本机构服务项目): draft a new one, edit it, submit it for review, see what
is under review or was sent back, pause and resume a published one.

Everything goes through the resources service, as the API does: ``create_service`` (a draft),
``update_service`` (the owner's edit of a draft, which also confirms the listing is current) and
``transition_service`` with the owner's transitions of ``SERVICE_LIFECYCLE``; the district approves or sends back on
its own pool page. A published or paused service is not changed by the form: saving it proposes a revision
(``revisions.propose``) that the organization submits or withdraws here and the district reviews on the pool page's
"服务修改" tab; the page shows the open revision field by field (now → proposed). A service of another
organization is not found here (the console does not reveal it exists).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from admin import web
from admin.views import accountforms as forms
from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.deps import AppSettings, CurrentUser, DbSession
from marketplace.errors import Forbidden, Invalid, NotFound
from marketplace.geography import service as geography
from marketplace.ids import PathId
from marketplace.resources import revisions
from marketplace.resources import service as pool
from marketplace.resources.models import Service, ServiceRevision
from marketplace.resources.readmodel import ServiceFilters, ServiceRow
from marketplace.resources.schemas import ServiceChanges, ServiceIn, ServicePatch
from marketplace.resources.taxonomy import (
    CHILD_CATEGORIES,
    DELIVERY_MODES,
    FIVE_SOCIETIES,
    FUNDING_SOURCES,
    SERVICE_CATEGORIES,
    SERVICE_REVISION_STATUSES,
    SERVICE_STATUSES,
)
from marketplace.settings import Settings

BASE = "/admin/services"
PAGE = 200
# What the owner may do from this page (archiving stays on the API: it cannot be undone).
ACTIONS = {"submit": "提交审核", "pause": "暂停", "resume": "恢复"}
# What the owner does with the open revision of a published service.
REVISION_ACTIONS = {"submit": "提交修改审核", "withdraw": "撤回修改"}
# Beside a service in the list: where its open revision stands.
REVISION_MARKS = {"draft": "修改未提交", "pending_review": "修改待审核", "returned": "修改被退回"}
# The order the owner reads its services in: what needs its attention first.
GROUPS = {
    "returned": "退回修改",
    "pending_review": "审核中",
    "draft": "草稿",
    "published": "已发布",
    "paused": "已暂停",
    "archived": "已归档",
}
LABELS = revisions.FIELD_LABELS  # the listing fields' names, as the review shows them
MULTI = ("categories", "child_categories", "street_ids", "five_societies")
_MONEY = re.compile(r"^\d{1,8}(\.\d{1,2})?$")
_FIELD = re.compile(r"^([a-z_]+)")


def own_organization(principal: Principal) -> int:
    """The caller's organization; these pages are an organization's staff's own."""
    if principal.role != "org_staff" or principal.organization_id is None:
        raise Forbidden("仅社会组织工作人员可管理本机构服务项目 (organization staff only)")
    return principal.organization_id


async def own_service(session: AsyncSession, principal: Principal, service_id: int) -> Service:
    organization_id = own_organization(principal)
    service = await pool.get_service(session, service_id)
    if service.organization_id != organization_id:
        raise NotFound(f"服务项目 {service_id} 不存在 (service not found)")
    return service


# ---------------------------------------------------------------- the form


def _int(value: str, field: str, default: int) -> int:
    value = value.strip()
    if not value:
        return default
    if not value.isdigit() or len(value) > 6:
        raise forms.FormError(f"{LABELS[field]}：请填写非负整数", field)
    return int(value)


def _fen(value: str) -> int:
    value = value.strip().replace(",", "")
    if not value:
        return 0
    if not _MONEY.match(value):
        raise forms.FormError("每例成本：请填写金额（元，最多两位小数）", "cost_per_case_fen")
    return int(Decimal(value) * 100)


async def posted_values(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The posted service form as the fields of ``ServiceIn`` (every field, so an edit sets what the form shows)."""
    posted = await request.form()
    one = {k: str(v).strip() for k, v in posted.items() if isinstance(v, str)}
    many = {name: [str(v) for v in posted.getall(name)] if name in posted else [] for name in MULTI}
    street_ids = []
    for raw in many["street_ids"]:
        if not raw.isdigit() or len(raw) > 12:
            raise forms.FormError("服务街道：请选择列表中的街道", "street_ids")
        street_ids.append(int(raw))
    return {
        "title": one.get("title", "")[:200],
        "categories": many["categories"],
        "capacity_per_month": _int(one.get("capacity_per_month", ""), "capacity_per_month", -1),
        "description": one.get("description", ""),
        "eligibility": one.get("eligibility", ""),
        "child_categories": many["child_categories"],
        "age_min": _int(one.get("age_min", ""), "age_min", 0),
        "age_max": _int(one.get("age_max", ""), "age_max", 18),
        "street_ids": street_ids,
        "cost_per_case_fen": _fen(one.get("cost_per_case", "")),
        "delivery_mode": one.get("delivery_mode", "in_person"),
        "funding_source": one.get("funding_source", "free"),
        "schedule": one.get("schedule", ""),
        "wait_time_days": _int(one.get("wait_time_days", ""), "wait_time_days", 0),
        "fees_text": one.get("fees_text", ""),
        "five_societies": many["five_societies"],
        "contact_phone": one.get("contact_phone", ""),
    }


def _check_required(values: dict[str, Any]) -> None:
    if not values["title"]:
        raise forms.FormError("服务名称：请填写服务名称", "title")
    if not values["categories"]:
        raise forms.FormError("服务类别：请至少选择一个服务类别", "categories")
    if values["capacity_per_month"] < 0:
        raise forms.FormError("每月名额：请填写每月可承接的个案数", "capacity_per_month")


def convert(kind: type[Any], data: dict[str, Any]) -> Any:
    """``data`` as the service schema, or a ``FormError`` naming the field (by its label) that does not fit."""
    try:
        return msgspec.convert(data, kind)
    except msgspec.ValidationError as exc:
        found = re.search(r"`\$\.([a-z_]+)", str(exc))
        field = found.group(1) if found else None
        label = LABELS.get(field or "", "表单")
        raise forms.FormError(f"{label}：格式不正确或超出范围", field) from exc


def error_text(exc: Exception) -> str:
    """A service refusal names its field in English (``categories[0]: …``): show the label people read."""
    if isinstance(exc, Invalid) and exc.errors:
        parts = []
        for e in exc.errors:
            found = _FIELD.match(str(e.get("field", "")))
            label = LABELS.get(found.group(1), "") if found else ""
            parts.append(f"{label}：{e.get('message', '')}" if label else str(e.get("message", "")))
        return "；".join(parts)
    return forms.error_message(exc)


def form_values(service: Service | None, revision: ServiceRevision | None = None) -> dict[str, Any]:
    """What the form shows: a service's values (with its open revision's proposals over them), or the defaults of
    a new one."""
    if service is None:
        return {
            "title": "",
            "categories": [],
            "capacity_per_month": "",
            "description": "",
            "eligibility": "",
            "child_categories": [],
            "age_min": 0,
            "age_max": 18,
            "street_ids": [],
            "cost_per_case": "0.00",
            "delivery_mode": "in_person",
            "funding_source": "free",
            "schedule": "",
            "wait_time_days": 0,
            "fees_text": "",
            "five_societies": ["social_organization"],
            "contact_phone": "",
        }
    return {
        "title": service.title,
        "categories": service.category_codes,
        "capacity_per_month": service.capacity_per_month,
        "description": service.description,
        "eligibility": service.eligibility,
        "child_categories": service.child_category_codes,
        "age_min": service.age_min,
        "age_max": service.age_max,
        "street_ids": service.street_ids,
        "cost_per_case": f"{service.cost_per_case_fen // 100}.{service.cost_per_case_fen % 100:02d}",
        "delivery_mode": service.delivery_mode,
        "funding_source": service.funding_source,
        "schedule": service.schedule,
        "wait_time_days": service.wait_time_days,
        "fees_text": service.fees_text,
        "five_societies": list(service.five_societies or []),
        "contact_phone": service.contact_phone,
    } | (_proposed(revision) if revision is not None else {})


def _proposed(revision: ServiceRevision) -> dict[str, Any]:
    shown = {k: v for k, v in revision.changes.items() if k != "cost_per_case_fen"}
    if "cost_per_case_fen" in revision.changes:
        fen = int(revision.changes["cost_per_case_fen"])
        shown["cost_per_case"] = f"{fen // 100}.{fen % 100:02d}"
    return shown


def display(field: str, value: Any, streets: dict[int, str]) -> str:
    """A listing field's value as people read it in a "now → proposed" diff."""
    if value is None:
        return "—"
    if field == "categories":
        return "、".join(SERVICE_CATEGORIES.get(c, c) for c in value) or "—"
    if field == "child_categories":
        return "、".join(CHILD_CATEGORIES.get(c, c) for c in value) or "不限"
    if field == "street_ids":
        return "、".join(streets.get(i, f"街道 {i}") for i in value) or "全区"
    if field == "five_societies":
        return "、".join(FIVE_SOCIETIES.get(c, c) for c in value) or "—"
    if field == "delivery_mode":
        return DELIVERY_MODES.get(value, str(value))
    if field == "funding_source":
        return FUNDING_SOURCES.get(value, str(value))
    if field == "cost_per_case_fen":
        return f"{int(value) // 100}.{int(value) % 100:02d} 元"
    if field in ("age_min", "age_max"):
        return f"{value} 岁"
    if field == "wait_time_days":
        return f"{value} 天"
    return str(value) if value != "" else "（空）"


async def street_names(session: AsyncSession) -> dict[int, str]:
    return {s.id: s.name for s in await geography.list_streets(session)}


def revision_view(
    revision: ServiceRevision, principal: Principal, streets: dict[int, str], *, error: str | None = None
) -> dict[str, Any]:
    """A revision as the console shows it: status, the district's reason, the diff, what the caller may do."""
    return {
        "id": revision.id,
        "service_id": revision.service_id,
        "service_title": revision.service.title,
        "organization": revision.service.organization.name,
        "status": revision.status,
        "status_label": SERVICE_REVISION_STATUSES.get(revision.status, revision.status),
        "open": revision.status in ("draft", "pending_review", "returned"),
        "reason": revision.reason,
        "submitted_at": revision.submitted_at,
        "decided_at": revision.decided_at,
        "updated_at": revision.updated_at,
        "diff": [
            {"field": f, "label": label, "current": display(f, now, streets), "proposed": display(f, new, streets)}
            for f, label, now, new in revisions.diff(revision)
        ],
        "actions": revisions.allowed_actions(principal, revision),
        "error": error,
    }


async def posted_as_shown(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """What was posted, as the form shows it again after a refusal: exactly what the person typed and ticked."""
    posted = await request.form()
    shown: dict[str, Any] = {k: str(v) for k, v in form_values(None).items() if not isinstance(v, list)}
    shown.update({k: str(v) for k, v in posted.items() if isinstance(v, str) and k in shown})
    for name in MULTI:
        values = [str(v) for v in posted.getall(name)] if name in posted else []
        shown[name] = [int(v) for v in values if v.isdigit() and len(v) <= 12] if name == "street_ids" else values
    return shown


async def _choices(session: AsyncSession) -> dict[str, Any]:
    return {
        "service_categories": SERVICE_CATEGORIES,
        "child_categories": CHILD_CATEGORIES,
        "delivery_modes": DELIVERY_MODES,
        "funding_sources": FUNDING_SOURCES,
        "five_societies": FIVE_SOCIETIES,
        "streets": [(s.id, s.name) for s in await geography.list_streets(session)],
    }


def status_notice(status: str, note: str) -> tuple[str, str] | None:
    """What the owner should know about where the listing stands in the review."""
    if status == "draft" and note:
        return "error", f"区民政退回修改：{note}。请修改后重新提交审核。"
    if status == "draft":
        return "warn", "草稿尚未提交：提交审核并经区民政通过后，服务才会出现在资源库中。"
    if status == "pending_review":
        return "warn", "已提交审核，等待区民政审核。审核期间仍可修改，审核人看到的是最新内容。"
    if status == "paused":
        return "warn", "服务已暂停：暂停期间不会出现在资源库检索和匹配中，恢复后重新上架。修改同样需经区民政审核。"
    if status == "published":
        return "ok", (
            "服务已发布，在资源库中可检索。修改需经区民政审核：保存后生成修改申请，提交审核并通过后生效，"
            "审核期间资源库中仍显示当前内容。"
        )
    return None


# Confirming that a live listing is still current changes nothing families read: immediate, no review.
CONFIRM = ("confirm", "确认信息仍为最新")


def actions_for(status: str) -> list[tuple[str, str]]:
    allowed = pool.SERVICE_LIFECYCLE.allowed(status)
    found = [(a, label) for a, label in ACTIONS.items() if a in allowed and a in pool.OWNER_TRANSITIONS]
    return [*found, CONFIRM] if status in pool.REVISED_STATUSES else found


def row_of(
    service: Service | ServiceRow, settings: Settings, revision: ServiceRevision | None = None
) -> dict[str, Any]:
    booked = service.booked if isinstance(service, ServiceRow) else None
    group = "returned" if service.status == "draft" and service.status_note else service.status
    return {
        "id": service.id,
        "title": service.title,
        "categories": "、".join(SERVICE_CATEGORIES.get(c, c) for c in service.category_codes),
        "capacity": service.capacity_per_month,
        "capacity_left": None if booked is None else max(0, service.capacity_per_month - booked),
        "status": service.status,
        "status_label": SERVICE_STATUSES.get(service.status, service.status),
        "status_note": service.status_note,
        "group": group,
        "assured_on": service.assured_on,
        "stale": service.status == "published" and pool.is_stale(service, settings.stale_listing_days, clock.today()),
        "actions": actions_for(service.status),
        "revision_mark": REVISION_MARKS.get(revision.status, "") if revision is not None else "",
        "revision_status": revision.status if revision is not None else "",
    }


# ---------------------------------------------------------------- pages


async def _own_rows(session: AsyncSession, principal: Principal, organization_id: int) -> list[ServiceRow]:
    found: list[ServiceRow] = []
    while True:
        rows, total, _ = await pool.list_services(
            session, principal, ServiceFilters(organization_id=organization_id), limit=PAGE, offset=len(found)
        )
        found.extend(rows)
        if not rows or len(found) >= total:
            return found


@get("/services", name="console-org-services")
async def services_page(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, settings: AppSettings
) -> Response[str]:
    organization_id = own_organization(principal)
    services = await _own_rows(session, principal, organization_id)
    open_revisions = await revisions.open_revision_ids(session, [s.id for s in services])
    rows = [row_of(s, settings, open_revisions.get(s.id)) for s in services]
    groups = [(key, label, [r for r in rows if r["group"] == key]) for key, label in GROUPS.items()]
    return web.render(
        "org_services.html",
        groups=[g for g in groups if g[2]],
        total=len(rows),
        under_review=sum(1 for r in rows if r["status"] == "pending_review"),
        revisions_waiting=sum(1 for r in rows if r["revision_status"] == "pending_review"),
        stale_days=settings.stale_listing_days,
        **web.page_context(request, principal, "services"),
    )


async def _form_page(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    *,
    service: Service | None,
    values: dict[str, Any],
    error: str | None = None,
    flash: str | None = None,
    status_code: int = 200,
) -> Response[str]:
    revision = history = None
    streets = await street_names(session)
    if service is not None and service.status in pool.REVISED_STATUSES:
        revision = await revisions.open_revision(session, service.id)
        found, _ = await revisions.list_service_revisions(session, principal, service.id, limit=6)
        history = [
            revision_view(r, principal, streets)
            for r in found
            if r.status not in ("draft", "pending_review", "returned")
        ]
    context: dict[str, Any] = {
        "flash": flash,
        "service": service,
        "revision": revision_view(revision, principal, streets) if revision is not None else None,
        "history": history,
        "reviewed": service is not None and service.status in pool.REVISED_STATUSES,
        "row": row_of(service, settings, revision) if service is not None else None,
        "notice": status_notice(service.status, service.status_note) if service is not None else None,
        "v": values,
        "error": error,
        **(await _choices(session)),
    }
    if web.is_htmx(request):
        # A refused form answers in place: the form again, with the message, nothing changed.
        return web.render("_service_form.html", status_code=status_code, csrf=web.csrf_token(request), **context)
    return web.render(
        "org_service.html", status_code=status_code, **context, **web.page_context(request, principal, "services")
    )


def _go(request: Request[Any, Any, Any], location: str) -> Response[str]:
    if web.is_htmx(request):
        return Response(content="", status_code=200, headers={"HX-Redirect": location, **web.SECURITY_HEADERS})
    return Response(content="", status_code=303, headers={"location": location, **web.SECURITY_HEADERS})


@get("/services/new", name="console-org-service-new")
async def new_service_page(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, settings: AppSettings
) -> Response[str]:
    own_organization(principal)
    return await _form_page(request, session, principal, settings, service=None, values=form_values(None))


@post("/services/new", name="console-org-service-create")
async def create_service(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    form: web.ConsoleForm,
) -> Response[str]:
    organization_id = own_organization(principal)
    try:
        values = await posted_values(request)
        _check_required(values)
        created = await pool.create_service(
            session, principal, convert(ServiceIn, {"organization_id": organization_id, **values})
        )
    except (forms.FormError, *forms.FORM_ERRORS) as exc:
        await forms.abandon(session)
        return await _form_page(
            request,
            session,
            principal,
            settings,
            service=None,
            values=await posted_as_shown(request),
            error=error_text(exc),
            status_code=forms.error_status(exc),
        )
    return _go(request, f"{BASE}/{created.id}?saved=1")


@get("/services/{service_id:int}", name="console-org-service")
async def service_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    service_id: PathId,
    done: Annotated[str | None, QueryParameter(max_length=20)] = None,
    saved: Annotated[str | None, QueryParameter(max_length=2)] = None,
) -> Response[str]:
    service = await own_service(session, principal, service_id)
    revision = await revisions.open_revision(session, service.id) if service.status in pool.REVISED_STATUSES else None
    if done in ACTIONS:
        flash: str | None = f"已{ACTIONS[done]}"
    elif done == CONFIRM[0]:
        flash = "已确认信息为最新"
    elif done and done.startswith("revision_") and done[9:] in REVISION_ACTIONS:
        flash = f"已{REVISION_ACTIONS[done[9:]]}"
    elif saved:
        flash = "修改已保存，尚未生效：请提交修改审核" if revision is not None else "已保存"
    else:
        flash = None
    return await _form_page(
        request, session, principal, settings, service=service, values=form_values(service, revision), flash=flash
    )


@post("/services/{service_id:int}", name="console-org-service-update")
async def update_service(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    service_id: PathId,
    form: web.ConsoleForm,
) -> Response[str]:
    current = await own_service(session, principal, service_id)
    try:
        values = await posted_values(request)
        _check_required(values)
        if current.status in pool.REVISED_STATUSES:
            # A live listing changes only after the district's review: the form becomes the open revision.
            await revisions.propose(session, principal, service_id, convert(ServiceChanges, values))
        else:
            await pool.update_service(session, principal, service_id, convert(ServicePatch, values))
    except (forms.FormError, *forms.FORM_ERRORS) as exc:
        await forms.abandon(session)
        service = await own_service(session, principal, service_id)
        return await _form_page(
            request,
            session,
            principal,
            settings,
            service=service,
            values=await posted_as_shown(request),
            error=error_text(exc),
            status_code=forms.error_status(exc),
        )
    return _go(request, f"{BASE}/{service_id}?saved=1")


@post("/services/{service_id:int}/{action:str}", name="console-org-service-action")
async def service_action(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    settings: AppSettings,
    service_id: PathId,
    action: FromPath[str],
    form: web.ConsoleForm,
) -> Response[str]:
    if action not in ACTIONS and action != CONFIRM[0]:
        raise Invalid.field("action", "未知操作 (unknown action)")
    await own_service(session, principal, service_id)
    if action == CONFIRM[0]:
        # assured_on becomes today (update_service with nothing else changed): the listing is confirmed current.
        service = await pool.update_service(session, principal, service_id, ServicePatch())
    else:
        service = await pool.transition_service(session, principal, service_id, action)
    back = form.get("back", "")
    if back != "list":
        return _go(request, f"{BASE}/{service_id}?done={action}")
    if not web.is_htmx(request):
        return _go(request, BASE)
    return web.render(
        "_org_service_row.html",
        row=row_of(service, settings, await revisions.open_revision(session, service_id)),
        csrf=web.csrf_token(request),
        flash=f"“{service.title}”{'已确认信息为最新' if action == CONFIRM[0] else '已' + ACTIONS[action]}",
    )


@post("/services/{service_id:int}/revisions/{revision_id:int}/{action:str}", name="console-org-revision-action")
async def revision_action(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    service_id: PathId,
    revision_id: PathId,
    action: FromPath[str],
    form: web.ConsoleForm,
) -> Response[str]:
    """Submit the open revision for review, or withdraw it (it stays in the history)."""
    if action not in REVISION_ACTIONS:
        raise Invalid.field("action", "未知操作 (unknown action)")
    await own_service(session, principal, service_id)
    await revisions.act(session, principal, service_id, revision_id, action)
    return _go(request, f"{BASE}/{service_id}?done=revision_{action}")


ROUTES = [
    services_page,
    new_service_page,
    create_service,
    service_page,
    update_service,
    service_action,
    revision_action,
]
