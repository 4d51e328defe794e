"""An organization admin's own people (本机构人员): list, invite (an activation code shown once), disable, enable,
and reset a colleague's password (a one-time reset code shown once; their sessions end).

Only for an organization's admin (role ``org_staff`` with ``org_admin``); the accounts service limits it to the
``org_staff`` accounts of its own organization and audits every change.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from sqlalchemy.ext.asyncio import AsyncSession

from admin import web
from admin.views import accountforms as forms
from admin.views.accounts import row_response, scope_labels, scope_options
from marketplace.accounts import service as accounts
from marketplace.accounts.schemas import UserIn, UserOut
from marketplace.auth.principal import Principal
from marketplace.deps import CurrentUser, DbSession
from marketplace.errors import Forbidden
from marketplace.ids import PathId

BASE = "/admin/staff"
LIMIT = 100


def is_org_admin(principal: Principal) -> bool:
    return principal.role == "org_staff" and principal.org_admin


def _org_admin(principal: Principal) -> int:
    if not is_org_admin(principal) or principal.organization_id is None:
        raise Forbidden("仅机构管理员可管理本机构人员 (organization admins only)")
    return principal.organization_id


async def _all_staff(session: AsyncSession, principal: Principal, organization_id: int) -> list[UserOut]:
    found: list[UserOut] = []
    while True:
        rows, total = await accounts.list_users(
            session, principal, role="org_staff", organization_id=organization_id, limit=LIMIT, offset=len(found)
        )
        found.extend(rows)
        if not rows or len(found) >= total:
            return found


async def _page(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    principal: Principal,
    *,
    error: str | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response[str]:
    organization_id = _org_admin(principal)
    rows = await _all_staff(session, principal, organization_id)
    return web.render(
        "staff.html",
        status_code=status_code,
        rows=rows,
        scopes=scope_labels(rows, await scope_options(session)),
        base=BASE,
        may_manage=True,
        error=error,
        values=values or {},
        **web.page_context(request, principal, "staff"),
    )


@get("/staff", name="console-staff")
async def staff_page(request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser) -> Response[str]:
    return await _page(request, session, principal)


@post("/staff", name="console-staff-invite")
async def invite(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, form: web.ConsoleForm
) -> Response[str]:
    organization_id = _org_admin(principal)
    data = {
        "username": forms.text(form, "username", 200),
        "display_name": forms.text(form, "display_name", 200),
        "phone": forms.text(form, "phone", 40),
        "role": "org_staff",
        "organization_id": organization_id,
    }
    try:
        created = await accounts.create_user(session, principal, forms.convert(UserIn, data))
    except (forms.FormError, *forms.FORM_ERRORS) as exc:
        await forms.abandon(session)
        return await _page(
            request,
            session,
            principal,
            error=forms.error_message(exc),
            values=form,
            status_code=forms.error_status(exc),
        )
    return forms.code_page(
        request,
        principal,
        "staff",
        title="已邀请新同事",
        issued=created.activation,
        display_name=created.user.display_name,
        back=BASE,
        back_label="返回本机构人员",
    )


@post("/staff/{user_id:int}/disable", name="console-staff-disable")
async def disable(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, user_id: PathId, form: web.ConsoleForm
) -> Response[str]:
    _org_admin(principal)
    user = await accounts.disable_user(session, principal, user_id)
    return await row_response(request, session, user, BASE, f"“{user.display_name}”的账号已停用")


@post("/staff/{user_id:int}/enable", name="console-staff-enable")
async def enable(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, user_id: PathId, form: web.ConsoleForm
) -> Response[str]:
    _org_admin(principal)
    user = await accounts.enable_user(session, principal, user_id)
    return await row_response(request, session, user, BASE, f"“{user.display_name}”的账号已启用")


@post("/staff/{user_id:int}/reset-password", name="console-staff-reset")
async def reset(
    request: Request[Any, Any, Any], session: DbSession, principal: CurrentUser, user_id: PathId, form: web.ConsoleForm
) -> Response[str]:
    _org_admin(principal)
    issued = await accounts.reset_password(session, principal, user_id)
    user = await accounts.get_user(session, principal, user_id)
    return forms.code_page(
        request,
        principal,
        "staff",
        title="已生成重置码",
        issued=issued,
        display_name=user.display_name,
        back=BASE,
        back_label="返回本机构人员",
        note="原密码已失效，该同事的所有登录会话已结束。请当面或电话告知重置码。",
    )


ROUTES = [staff_page, invite, disable, enable, reset]
