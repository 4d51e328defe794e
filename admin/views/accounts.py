"""District account management (账号管理): list and search, create, edit, disable and enable, reset by one-time code,
recent login failures, and the handover of a community's or a street's caseload.

Everything goes through ``marketplace.accounts.service`` with the caller's ``Principal``: the service decides who
may do what and writes the audit rows. District admins manage; auditors read. A one-time code is shown once, in the
response to the request that made it (never stored in clear, never in a URL, never in a redirect).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.params import QueryParameter
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from admin import web
from admin.views import accountforms as forms
from marketplace.accounts import service as accounts
from marketplace.accounts.schemas import HandoverIn, UserIn, UserOut, UserPatch
from marketplace.auth.principal import ROLES, Principal
from marketplace.cases.models import Child, Need, Notification
from marketplace.deps import CurrentUser, DbSession
from marketplace.errors import Forbidden, Invalid
from marketplace.geography.models import Community, Street
from marketplace.ids import PathId
from marketplace.resources.models import Organization

PAGE = 20
# The scope each role is granted on (the others are district-wide).
SCOPE_OF = {"child_director": "community", "child_supervisor": "street", "org_staff": "organization"}
HANDOVER_ROLES = ("child_director", "child_supervisor")
ACTIVE_FILTERS = {"": "全部", "1": "启用", "0": "已停用"}
# Why a login failed (the failure log's reasons).
FAILURE_REASONS = {
    "password": "密码错误",
    "unknown": "账号不存在",
    "disabled": "账号已停用",
    "throttled": "尝试过多，已限制",
    "code": "一次性码错误或过期",
}
# What a handover reports it moved, by kind.
MOVED_LABELS = {
    "community": "移交社区",
    "street": "移交街道",
    "children": "移交儿童",
    "needs": "移交需求",
    "referrals": "移交转介",
    "visits": "移交走访",
    "notifications": "移交通知",
}


def _readers(principal: Principal) -> None:
    if principal.role not in {"district_admin", "auditor"}:
        raise Forbidden("账号管理仅限区民政和审计 (district admins and auditors only)")


def _managers(principal: Principal) -> None:
    if principal.role != "district_admin":
        raise Forbidden("仅区民政可管理账号 (district admins only)")


async def scope_options(session: AsyncSession) -> dict[str, Any]:
    """Streets, communities and organizations for the scope selectors, as plain values."""
    streets = [(s.id, s.name) for s in (await session.scalars(select(Street).order_by(Street.id))).all()]
    names = dict(streets)
    communities = [
        (c.id, c.name, c.street_id, names.get(c.street_id, ""))
        for c in (await session.scalars(select(Community).order_by(Community.street_id, Community.id))).all()
    ]
    orgs = [
        (o.id, o.name)
        for o in (
            await session.scalars(
                select(Organization).where(Organization.status != "rejected").order_by(Organization.name)
            )
        ).all()
    ]
    return {"streets": streets, "communities": communities, "organizations": orgs, "roles": ROLES}


def scope_label(user: UserOut, options: dict[str, Any]) -> str:
    """Where the account works, by name: its community (and street), street or organization; else the district."""
    if user.role == "child_director" and user.community_id is not None:
        for cid, name, _street_id, street_name in options["communities"]:
            if cid == user.community_id:
                return f"{street_name} · {name}"
    if user.role == "child_supervisor" and user.street_id is not None:
        return str(dict(options["streets"]).get(user.street_id, ""))
    if user.role == "org_staff" and user.organization_id is not None:
        return str(dict(options["organizations"]).get(user.organization_id, ""))
    return "全区" if user.role not in SCOPE_OF else "未分配"


def scope_labels(users: list[UserOut], options: dict[str, Any]) -> dict[int, str]:
    return {u.id: scope_label(u, options) for u in users}


async def _scope(session: AsyncSession, role: str, form: dict[str, str]) -> dict[str, Any]:
    """The scope fields for ``role`` from the form; the ones that do not fit the role are cleared."""
    scope: dict[str, Any] = {"street_id": None, "community_id": None, "organization_id": None}
    kind = SCOPE_OF.get(role)
    if kind == "community":
        community_id = forms.optional_id(form, "community_id")
        if community_id is None:
            raise forms.FormError("儿童主任须选择所在社区", "community_id")
        community = await session.get(Community, community_id)
        if community is None:
            raise forms.FormError("社区：请选择列表中的一项", "community_id")
        scope.update(community_id=community.id, street_id=community.street_id)
    elif kind == "street":
        street_id = forms.optional_id(form, "street_id")
        if street_id is None:
            raise forms.FormError("儿童督导员须选择所在街道", "street_id")
        scope["street_id"] = street_id
    elif kind == "organization":
        organization_id = forms.optional_id(form, "organization_id")
        if organization_id is None:
            raise forms.FormError("社会组织工作人员须选择所属机构", "organization_id")
        scope["organization_id"] = organization_id
    return scope


def _role(form: dict[str, str]) -> str:
    role = forms.text(form, "role", 40)
    if role not in ROLES:
        raise forms.FormError("角色：请选择列表中的一项", "role")
    return role


async def user_in(session: AsyncSession, form: dict[str, str]) -> UserIn:
    role = _role(form)
    data: dict[str, Any] = {
        "username": forms.text(form, "username", 200),
        "display_name": forms.text(form, "display_name", 200),
        "phone": forms.text(form, "phone", 40),
        "role": role,
        **await _scope(session, role, form),
    }
    if role == "org_staff":
        data["is_org_admin"] = form.get("is_org_admin") == "1"
    return forms.convert(UserIn, data)


async def user_patch(session: AsyncSession, form: dict[str, str]) -> UserPatch:
    role = _role(form)
    data: dict[str, Any] = {
        "display_name": forms.text(form, "display_name", 200),
        "phone": forms.text(form, "phone", 40),
        "role": role,
        **await _scope(session, role, form),
        "is_org_admin": role == "org_staff" and form.get("is_org_admin") == "1",
    }
    return forms.convert(UserPatch, data)


def _query(q: str, role: str, active: str) -> str:
    """The list's filters as a query string (the pager keeps them)."""
    return urlencode([(k, v) for k, v in (("q", q), ("role", role), ("active", active)) if v])


async def _list_page(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    principal: Principal,
    *,
    q: str = "",
    role: str = "",
    active: str = "",
    page: int = 1,
    error: str | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response[str]:
    rows, total = await accounts.list_users(
        session,
        principal,
        q=q or None,
        role=role or None,
        active=None if active == "" else active == "1",
        limit=PAGE,
        offset=(page - 1) * PAGE,
    )
    options = await scope_options(session)
    return web.render(
        "accounts.html",
        status_code=status_code,
        rows=rows,
        scopes=scope_labels(rows, options),
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE)),
        q=q,
        role=role,
        active_filter=active,
        active_filters=ACTIVE_FILTERS,
        query=_query(q, role, active),
        may_manage=principal.role == "district_admin",
        error=error,
        values=values or {},
        base="/admin/accounts",
        **options,
        **web.page_context(request, principal, "accounts"),
    )


@get("/accounts", name="console-accounts")
async def accounts_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    q: Annotated[str, QueryParameter(max_length=80)] = "",
    role: Annotated[str, QueryParameter(max_length=40)] = "",
    active: Annotated[str, QueryParameter(max_length=1)] = "",
    page: Annotated[int, QueryParameter(ge=1, le=10_000)] = 1,
) -> Response[str]:
    _readers(principal)
    if role and role not in ROLES:
        raise Invalid.field("role", "未知角色 (unknown role)")
    if active not in ACTIVE_FILTERS:
        raise Invalid.field("active", "未知筛选 (unknown filter)")
    return await _list_page(request, session, principal, q=q.strip(), role=role, active=active, page=page)


@post("/accounts", name="console-account-create")
async def create_account(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, form: web.ConsoleForm
) -> Response[str]:
    _managers(principal)
    try:
        created = await accounts.create_user(session, principal, await user_in(session, form))
    except (forms.FormError, *forms.FORM_ERRORS) as exc:
        await forms.abandon(session)
        return await _list_page(
            request,
            session,
            principal,
            error=forms.error_message(exc),
            values=form,
            status_code=forms.error_status(exc),
        )
    user = created.user
    return forms.code_page(
        request,
        principal,
        "accounts",
        title="账号已创建",
        issued=created.activation,
        display_name=user.display_name,
        back=f"/admin/accounts/{user.id}",
        back_label="查看该账号",
    )


async def _detail(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    principal: Principal,
    user_id: int,
    *,
    error: str | None = None,
    flash: str | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response[str]:
    user = await accounts.get_user(session, principal, user_id)
    failures = await accounts.login_failures(session, principal, user_id)
    options = await scope_options(session)
    return web.render(
        "account.html",
        status_code=status_code,
        user=user,
        scope=scope_label(user, options),
        failures=failures,
        failure_reasons=FAILURE_REASONS,
        may_manage=principal.role == "district_admin" and user.id != principal.user_id,
        may_handover=principal.role == "district_admin" and user.role in HANDOVER_ROLES and user.is_active,
        error=error,
        flash=flash,
        values=values,
        **options,
        **web.page_context(request, principal, "accounts"),
    )


@get("/accounts/{user_id:int}", name="console-account")
async def account_page(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, user_id: PathId
) -> Response[str]:
    _readers(principal)
    return await _detail(request, session, principal, user_id)


@post("/accounts/{user_id:int}", name="console-account-edit")
async def edit_account(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, user_id: PathId, form: web.ConsoleForm
) -> Response[str]:
    _managers(principal)
    try:
        user = await accounts.update_user(session, principal, user_id, await user_patch(session, form))
    except (forms.FormError, *forms.FORM_ERRORS) as exc:
        await forms.abandon(session)
        return await _detail(
            request,
            session,
            principal,
            user_id,
            error=forms.error_message(exc),
            values=form,
            status_code=forms.error_status(exc),
        )
    return await _detail(request, session, principal, user.id, flash=f"账号“{user.display_name}”已保存")


async def row_response(
    request: Request[Any, Any, Any], session: AsyncSession, user: UserOut, back: str, flash: str
) -> Response[str]:
    """After disable/enable: the row (htmx) or back to the page the form was on."""
    if web.is_htmx(request):
        return web.render(
            "_account_row.html",
            row=user,
            scopes=scope_labels([user], await scope_options(session)),
            base=back.split("?", 1)[0],
            may_manage=True,
            csrf=web.csrf_token(request),
            flash=flash,
        )
    return Response(content="", status_code=303, headers={"location": back, **web.SECURITY_HEADERS})


def _back(form: dict[str, str], default: str) -> str:
    back = form.get("back", "")
    if back.startswith(default) and "//" not in back and "\\" not in back:
        return back
    return default


@post("/accounts/{user_id:int}/disable", name="console-account-disable")
async def disable_account(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, user_id: PathId, form: web.ConsoleForm
) -> Response[str]:
    _managers(principal)
    user = await accounts.disable_user(session, principal, user_id)
    return await row_response(
        request, session, user, _back(form, "/admin/accounts"), f"账号“{user.display_name}”已停用"
    )


@post("/accounts/{user_id:int}/enable", name="console-account-enable")
async def enable_account(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, user_id: PathId, form: web.ConsoleForm
) -> Response[str]:
    _managers(principal)
    user = await accounts.enable_user(session, principal, user_id)
    return await row_response(
        request, session, user, _back(form, "/admin/accounts"), f"账号“{user.display_name}”已启用"
    )


@post("/accounts/{user_id:int}/reset-password", name="console-account-reset")
async def reset_account(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, user_id: PathId, form: web.ConsoleForm
) -> Response[str]:
    _managers(principal)
    issued = await accounts.reset_password(session, principal, user_id)
    user = await accounts.get_user(session, principal, user_id)
    return forms.code_page(
        request,
        principal,
        "accounts",
        title="已生成重置码",
        issued=issued,
        display_name=user.display_name,
        back=f"/admin/accounts/{user_id}",
        back_label="返回该账号",
        note="原密码已失效，该账号的所有登录会话已结束。",
    )


# ---------------------------------------------------------------- handover


async def _everyone(session: AsyncSession, principal: Principal, role: str) -> list[UserOut]:
    found: list[UserOut] = []
    while True:
        rows, total = await accounts.list_users(
            session, principal, role=role, active=True, limit=100, offset=len(found)
        )
        found.extend(rows)
        if not rows or len(found) >= total:
            return found


def _may_take(source: UserOut, user: UserOut) -> bool:
    """Another account of the role that has no community (street) yet or the same one."""
    if user.id == source.id:
        return False
    if source.role == "child_director":
        return user.community_id in (None, source.community_id)
    return user.street_id in (None, source.street_id)


async def _preview(session: AsyncSession, user: UserOut) -> dict[str, Any]:
    """What the handover moves: the caseload of the account's community (director) or street (supervisor)."""
    if user.role == "child_director":
        child_scope = Child.community_id == user.community_id
        need_scope = Need.community_id == user.community_id
    else:
        child_scope = Child.street_id == user.street_id
        need_scope = Need.street_id == user.street_id
    children = await session.scalar(
        select(func.count()).select_from(Child).where(child_scope, Child.status == "active")
    )
    needs = await session.scalar(select(func.count()).select_from(Need).where(need_scope, Need.status == "open"))
    unread = await session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.recipient_id == user.id, Notification.read_at.is_(None))
    )
    return {"children": int(children or 0), "needs": int(needs or 0), "unread": int(unread or 0)}


async def _handover_page(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    principal: Principal,
    from_id: int | None,
    to_id: int | None,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response[str]:
    sources = [u for role in HANDOVER_ROLES for u in await _everyone(session, principal, role)]
    source = next((u for u in sources if u.id == from_id), None)
    if from_id is not None and source is None:
        raise Invalid.field("from_id", "移交人须是在岗的儿童主任或督导员 (an active director or supervisor)")
    targets = [u for u in await _everyone(session, principal, source.role) if _may_take(source, u)] if source else []
    target = next((u for u in targets if u.id == to_id), None)
    if to_id is not None and source is not None and target is None:
        error = error or "接收人须是同一角色的其他在岗账号 (another active account of the same role)"
    options = await scope_options(session)
    return web.render(
        "handover.html",
        scopes=scope_labels([*sources, *targets], options),
        status_code=status_code,
        sources=sources,
        source=source,
        targets=targets,
        target=target,
        preview=await _preview(session, source) if source and target else None,
        error=error,
        **web.page_context(request, principal, "accounts"),
    )


@get("/accounts/handover", name="console-handover")
async def handover_page(
    request: Request[Any, Any, Any],
    session: DbSession,
    principal: CurrentUser,
    from_id: Annotated[int | None, QueryParameter(ge=1)] = None,
    to_id: Annotated[int | None, QueryParameter(ge=1)] = None,
) -> Response[str]:
    _managers(principal)
    return await _handover_page(request, session, principal, from_id, to_id)


@post("/accounts/handover", name="console-handover-post")
async def do_handover(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, form: web.ConsoleForm
) -> Response[str]:
    _managers(principal)
    try:
        from_id = forms.optional_id(form, "from_id")
        to_id = forms.optional_id(form, "to_id")
        if from_id is None or to_id is None:
            raise forms.FormError("请选择移交人和接收人")
        done = await accounts.handover(session, principal, HandoverIn(from_user_id=from_id, to_user_id=to_id))
    except (forms.FormError, *forms.FORM_ERRORS) as exc:
        await forms.abandon(session)
        return await _handover_page(
            request,
            session,
            principal,
            None,
            None,
            error=forms.error_message(exc),
            status_code=forms.error_status(exc),
        )
    old = await accounts.get_user(session, principal, done.from_user_id)
    new = await accounts.get_user(session, principal, done.to_user_id)
    return web.render(
        "handover_done.html",
        scope=scope_label(new, await scope_options(session)),
        done=done,
        old=old,
        new=new,
        moved_labels=MOVED_LABELS,
        **web.page_context(request, principal, "accounts"),
    )


ROUTES = [
    accounts_page,
    create_account,
    handover_page,
    do_handover,
    account_page,
    edit_account,
    disable_account,
    enable_account,
    reset_account,
]
