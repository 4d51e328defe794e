"""The console's plumbing: templates, the caller from the session, CSRF-aware HTML error pages, navigation.

The console calls the same services as the API with the same ``Principal``; only the way the caller proves who
they are differs: a server-side session (``admin.sessions``: Litestar's session middleware over Redis or the
database) instead of a bearer token, and Litestar's CSRF middleware on every unsafe request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeAlias, TypeVar
from urllib.parse import quote

import msgspec
from jinja2 import Environment, PackageLoader, select_autoescape
from litestar import Request, Response
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.template.base import csrf_token as litestar_csrf_token
from markupsafe import Markup
from sqlalchemy import event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from admin import sessions
from marketplace import clock, outbox
from marketplace.audit import operations as audit_operations
from marketplace.auth.models import User
from marketplace.auth.principal import OPEN_BEFORE_PASSWORD_CHANGE, ROLES, Principal
from marketplace.auth.service import principal_of
from marketplace.cases import notifications
from marketplace.deps import DbSession
from marketplace.errors import (
    TITLES,
    DomainError,
    Invalid,
    database_outage,
    database_unavailable,
    nul_field,
    refuse_nul,
    search_outage,
    search_unavailable,
)
from marketplace.idempotency.service import FORM_FIELD as IDEMPOTENCY_FIELD
from marketplace.settings import Settings

log = logging.getLogger("marketplace.admin")

# The console is for staff who work in the district's offices and on the move: no console for anonymous donors.
CONSOLE_ROLES = frozenset(ROLES)

SECURITY_HEADERS = {
    # Scripts only from our own static files; ECharts sets element styles from JS, which CSP allows.
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


# ---------------------------------------------------------------- templates


def fen_text(value: int | None) -> str:
    """Integer fen as ¥1,234.56 (— for none)."""
    if value is None:
        return "—"
    sign = "-" if value < 0 else ""
    yuan, fen = divmod(abs(int(value)), 100)
    return f"{sign}¥{yuan:,}.{fen:02d}"


_YUAN_MARKS = (",", "，", "¥", "￥", "元")


def parse_yuan(raw: str, *, max_digits: int = 10) -> int | None:
    """An amount typed in yuan (``12,345.67``, ``¥1200``, ``-500``) as integer fen, or None when it is not one (at
    most two decimals, at most ``max_digits`` whole digits). A form decides what a sign or a zero means to it."""
    text = raw.strip()
    for mark in _YUAN_MARKS:
        text = text.replace(mark, "")
    found = re.fullmatch(rf"(-?)(\d{{1,{max_digits}}})(?:\.(\d{{1,2}}))?", text.strip())
    if found is None:
        return None
    sign, whole, cents = found.groups()
    fen = int(whole) * 100 + int(((cents or "") + "00")[:2])
    return -fen if sign else fen


def _local(value: dt.datetime | dt.date | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return "—"
    if isinstance(value, dt.datetime):
        return value.astimezone(clock.DISTRICT_TZ).strftime(fmt)
    return value.isoformat()


def _json_script(value: Any) -> Markup:
    # Inside <script type="application/json">: escape what could close the tag or start a comment.
    text = json.dumps(value, ensure_ascii=False, default=str)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)  # noqa: S704 - escaped above for a JSON script block


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("admin", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fen"] = fen_text
    env.filters["local"] = _local
    env.filters["json_script"] = _json_script
    env.globals["ROLES"] = ROLES
    return env


# Every form that posts carries the page's CSRF token field; each such form gets its own one-time idempotency key
# beside it, made as the page renders: submitting the form twice (a double click, a resent POST after a timeout)
# answers the second time with the first time's result (marketplace.idempotency). admin.js gives a form that
# htmx leaves on the page a fresh key after each successful submit.
_CSRF_INPUT = re.compile(r'<input type="hidden" name="_csrf_token" value="[^"]*">')


def _with_idempotency_keys(html: str) -> str:
    return _CSRF_INPUT.sub(
        lambda m: f'{m.group(0)}<input type="hidden" name="{IDEMPOTENCY_FIELD}" value="{secrets.token_hex(16)}">', html
    )


def render(
    template: str, status_code: int = 200, headers: Mapping[str, str] | None = None, **context: Any
) -> Response[str]:
    html = _with_idempotency_keys(environment().get_template(template).render(**context))
    if "\x00" in html:
        html = html.replace("\x00", "")  # a refused form's values as posted, without the NUL it was refused for
    return Response(
        content=html,
        status_code=status_code,
        media_type="text/html; charset=utf-8",
        headers={**SECURITY_HEADERS, **(headers or {})},
    )


# ---------------------------------------------------------------- the caller


# The posted form (``provide_form``); handlers take it as ``form: ConsoleForm``. Litestar's CSRF middleware has
# checked the token before any handler runs.
ConsoleForm: TypeAlias = NamedDependency[dict[str, str]]

# Litestar's CSRF middleware refuses with this detail; the console shows its own words for it.
CSRF_FAILED = "CSRF token verification failed"
CSRF_MESSAGE = "页面已过期或请求来源不明，请刷新页面后重试 (CSRF token missing or wrong)"


class LoginRequired(Exception):
    """No valid console session: send the browser to the login page."""


class PasswordChangeRequired(Exception):
    """The account must set its own password before anything else: send the browser to that page."""


# Where an account that must choose its own password is sent (admin.views.auth serves it).
SET_PASSWORD_PATH = "/admin/password/set"  # noqa: S105 - a page, not a password


def account_stamp(user: User) -> str:
    """What a console session was granted on: any change to it (deactivation, role, scope, password, and the token
    version that logout, a password change, disabling and handover bump) ends it on its next request."""
    parts = (
        user.id,
        user.is_active,
        user.role,
        user.street_id,
        user.community_id,
        user.organization_id,
        user.password_hash,
        user.token_version or 0,
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


def start_session(request: Request[Any, Any, Any], user: User) -> None:
    """Log ``user`` in: the stored session names them, under a new session id."""
    request.set_session({"uid": user.id, "stamp": account_stamp(user)})
    sessions.rotate_session(request)


def end_session(request: Request[Any, Any, Any]) -> None:
    """Delete the stored session (the session middleware removes it from the store and clears the cookie)."""
    request.clear_session()


async def provide_console_principal(request: Request[Any, Any, Any], session: DbSession) -> Principal:
    """The caller, re-checked against their account on every request."""
    cached = request.scope.get("principal")
    if isinstance(cached, Principal):
        return cached
    data = request.session
    user_id = data.get("uid")
    if not isinstance(user_id, int):
        raise LoginRequired
    user = await session.get(User, user_id)
    if user is None or not user.is_active or user.role not in CONSOLE_ROLES or data.get("stamp") != account_stamp(user):
        # The request's own transaction ends first: the session middleware deletes the stored session through the
        # store's connection while the response is sent, and Litestar closes this request's session only after
        # that. On SQLite a writing route's transaction holds the write lock (BEGIN IMMEDIATE), so the delete
        # would wait for it until the busy timeout (a revoked session on the case board hung 30 s, then 503).
        await session.rollback()
        end_session(request)
        raise LoginRequired
    principal = principal_of(user)
    if principal.must_change_password and not request.route_handler.opt.get(OPEN_BEFORE_PASSWORD_CHANGE):
        raise PasswordChangeRequired
    request.scope["principal"] = principal  # type: ignore[typeddict-unknown-key]
    if principal.role in NOTIFIED_ROLES:
        request.scope[UNREAD] = await notifications.unread_count(session, principal.user_id)  # type: ignore[literal-required]
    return principal


# The roles whose navigation shows 通知 with its unread count (the people notifications are written to).
NOTIFIED_ROLES = frozenset({"child_director", "child_supervisor", "org_staff", "district_admin"})
UNREAD = "unread_notifications"


async def provide_form(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The posted form's text fields, without the CSRF token field."""
    form = await request.form()
    values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    values.pop(sessions.CSRF_FIELD, None)
    values.pop(IDEMPOTENCY_FIELD, None)
    return values


def csrf_token(request: Request[Any, Any, Any]) -> str:
    """The token this page's forms and htmx requests send back (Litestar's, from its CSRF middleware)."""
    return litestar_csrf_token({"request": request})


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("hx-request") == "true"


# ---------------------------------------------------------------- posted forms

_S = TypeVar("_S")
_FIELD_IN_ERROR = re.compile(r"\$\.([a-z_]+)")


def posted(values: Mapping[str, Any], name: str) -> str:
    """A posted field as typed, without the spaces around it ("" when absent or not text)."""
    value = values.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def parse_form(schema: type[_S], values: Mapping[str, Any], labels: Mapping[str, str]) -> _S:
    """A posted form as the API's request schema (the same constraints), refused with a Chinese message naming the
    field by its label (``labels``: field → what the form calls it)."""
    try:
        return msgspec.convert(dict(values), schema, strict=False)
    except msgspec.ValidationError as exc:
        found = _FIELD_IN_ERROR.search(str(exc))
        field = found.group(1) if found else ""
        label = labels.get(field, field or "表单")
        raise Invalid.field(field or "form", f"请检查“{label}”的填写 (invalid {field or 'form'}: {exc})") from exc


def after_change(request: Request[Any, Any, Any], location: str) -> Response[str]:
    """After a change: htmx follows HX-Redirect, a plain form the 303."""
    if is_htmx(request):
        return Response(content="", status_code=200, headers={"HX-Redirect": location, **SECURITY_HEADERS})
    return Response(content="", status_code=303, headers={"location": location, **SECURITY_HEADERS})


# ---------------------------------------------------------------- HTML errors


def login_redirect(request: Request[Any, Any, Any], _exc: Exception) -> Response[str]:
    target = "/admin/login?next=" + quote(request.url.path)
    if is_htmx(request):
        return Response(content="", status_code=200, headers={"HX-Redirect": target, **SECURITY_HEADERS})
    return Response(content="", status_code=303, headers={"location": target, **SECURITY_HEADERS})


def password_change_redirect(request: Request[Any, Any, Any], _exc: Exception) -> Response[str]:
    if is_htmx(request):
        return Response(content="", status_code=200, headers={"HX-Redirect": SET_PASSWORD_PATH, **SECURITY_HEADERS})
    return Response(content="", status_code=303, headers={"location": SET_PASSWORD_PATH, **SECURITY_HEADERS})


def _error_response(
    request: Request[Any, Any, Any], status: int, detail: str, headers: Mapping[str, str] | None = None
) -> Response[str]:
    if is_htmx(request):
        # admin.js lets 4xx fragments swap into the flash area named here.
        return render(
            "_flash.html",
            status_code=status,
            headers={"HX-Retarget": "#flash", "HX-Reswap": "innerHTML", **(headers or {})},
            messages=[("error", detail)],
        )
    principal = request.scope.get("principal")
    ctx = page_context(request, principal if isinstance(principal, Principal) else None, "")
    return render(
        "error.html",
        status_code=status,
        headers=headers,
        status=status,
        title=TITLES.get(status, "错误"),
        detail=detail,
        **ctx,
    )


def domain_error_page(request: Request[Any, Any, Any], exc: DomainError) -> Response[str]:
    return _error_response(request, exc.status_code, exc.detail, exc.headers)


def http_error_page(request: Request[Any, Any, Any], exc: HTTPException) -> Response[str]:
    status = exc.status_code
    detail = exc.detail if status < 500 else "服务器内部错误"
    if status == 400:
        detail = "请求参数有误 (bad request)"
    elif status == 403 and exc.detail == CSRF_FAILED:
        detail = CSRF_MESSAGE
    return _error_response(request, status, detail or TITLES.get(status, "错误"))


def database_error_page(request: Request[Any, Any, Any], exc: Exception) -> Response[str]:
    """The database (or search) out of reach or busy: 503 with ``Retry-After``, never the 500 page. A page that was only read
    offers a link to load it again after that wait (no automatic refresh: WCAG 2.2.1); after a form, the page says
    that nothing was saved."""
    detail, wait = search_outage(request, exc) if search_unavailable(exc) else database_outage(request, exc)
    headers = {"Retry-After": str(wait)}
    if is_htmx(request):
        return _error_response(request, 503, detail, headers)
    principal = request.scope.get("principal")
    ctx = page_context(request, principal if isinstance(principal, Principal) else None, "")
    return render(
        "unavailable.html",
        status_code=503,
        headers=headers,
        detail=detail,
        retry_after=wait,
        reload=request.method in ("GET", "HEAD"),
        again=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        **ctx,
    )


def internal_error_page(request: Request[Any, Any, Any], exc: Exception) -> Response[str]:
    """The 500 page, unless the database or search is out of reach or busy: then the 503 page."""
    if database_unavailable(exc) or search_unavailable(exc):
        return database_error_page(request, exc)
    log.exception("console error on %s %s", request.method, request.url.path, exc_info=exc)
    return _error_response(request, 500, "服务器内部错误，请稍后重试 (internal error)")


EXCEPTION_HANDLERS: dict[Any, Any] = {
    LoginRequired: login_redirect,
    PasswordChangeRequired: password_change_redirect,
    DomainError: domain_error_page,
    HTTPException: http_error_page,
    Exception: internal_error_page,
}


# ---------------------------------------------------------------- a refused form, shown again


def form_error(exc: Exception) -> tuple[str, int]:
    """The Chinese message and the status of a refused form: a service's ``DomainError`` says both; a console
    check's own error (``accountforms.FormError``) is its message, 422."""
    if isinstance(exc, DomainError):
        return exc.detail, exc.status_code
    return str(exc) or "表单填写有误", 422


def error_field(exc: Exception) -> str | None:
    """The form field a refusal names (a service's first field error, or the console check's own), if any."""
    if isinstance(exc, DomainError):
        field = exc.errors[0].get("field") if exc.errors else None
        return str(field).split(".")[0].split("[")[0] if field else None
    field = getattr(exc, "field", None)
    return field if isinstance(field, str) else None


async def abandon(session: AsyncSession) -> None:
    """Undo whatever a refused (or only previewed) request wrote, and the events it queued, before a page is shown
    again: a rollback alone would leave the queued events to be relayed after the request."""
    outbox.discard_pending(session)
    await session.rollback()


# ---------------------------------------------------------------- a NUL character in a console form
#
# The API refuses a NUL (U+0000) as it reads the request (``marketplace.errors``); the console's forms take the
# values as posted, and the NUL is refused where they are used, inside the handler's own refusal path: the session
# refuses to write a value holding one (before the flush, so an encrypted column is checked in clear) and the
# database connection refuses to send one as a query's value (a lookup by a typed name). Both raise the API's
# ``Invalid`` (422, naming the field where it is known), which every console form already answers by showing the
# form again in place with the Chinese message and the values as posted (``render_form_error`` or the handler's
# own re-render; ``render`` leaves the NUL itself out of the page). A value sealed by the field cipher is refused
# by the cipher (``cases.crypto``). Nothing is written: the refusal comes before the statement.


def _refuse_nul_on_flush(session: Session, _context: object, _instances: object) -> None:
    for obj in (*session.new, *session.dirty):
        state = inspect(obj)
        for attr in state.mapper.column_attrs:
            value = state.dict.get(attr.key)
            if isinstance(value, str | dict | list):
                field = nul_field(value, attr.key)
                if field is not None:
                    raise refuse_nul(field)


def _refuse_nul_in_statement(
    _conn: object, _cursor: object, _statement: str, parameters: Any, _context: object, _executemany: bool
) -> None:
    if parameters and _holds_nul(parameters):
        field = nul_field(parameters) if isinstance(parameters, dict) else None
        raise refuse_nul(field if field and field != "body" else "")


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_holds_nul(v) for v in value)
    return False


if not event.contains(Session, "before_flush", _refuse_nul_on_flush):
    event.listen(Session, "before_flush", _refuse_nul_on_flush)
    event.listen(Engine, "before_cursor_execute", _refuse_nul_in_statement)


async def render_form_error(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    exc: Exception,
    template: str,
    *,
    principal: Principal,
    active: str,
    fragment: str | None = None,
    reads: Callable[[], Awaitable[Mapping[str, Any]]] | None = None,
    **context: Any,
) -> Response[str]:
    """A form the service (or the console's own check) refused, shown again with nothing changed.

    What the refused request wrote, and the events it queued, are undone first; then ``reads`` (the page's own
    reads, made after the rollback so they show the stored state) and ``context`` (the posted values, under the name
    the template uses) render ``template`` again with the message as ``error``, under the refusal's status (a
    field error 422, a conflict 409). A plain form gets its whole page; an htmx form gets ``fragment`` (the form
    alone, swapped in place) or, without one, keeps what was typed in the browser and gets the message in the
    page's flash area, as any other refusal."""
    await abandon(session)
    message, status = form_error(exc)
    audit_operations.note_refusal(session, status)  # a refused row for a 403/404, no row of the undone work
    if is_htmx(request) and fragment is None:
        return _error_response(request, status, message)
    page = dict(await reads()) if reads is not None else {}
    shown = {"error": message, "error_field": error_field(exc), **page, **context}
    if is_htmx(request) and fragment is not None:
        return render(fragment, status_code=status, csrf=csrf_token(request), **shown)
    return render(template, status_code=status, **shown, **page_context(request, principal, active))


# ---------------------------------------------------------------- navigation


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str
    href: str


def navigation(principal: Principal) -> list[NavItem]:
    """The sections this role may open."""
    role = principal.role
    items = [NavItem("dashboard", "工作台", "/admin/")]
    if role == "org_staff":
        # An organization's day: its inbox first, then its own services (drafts, review, pauses).
        items.append(NavItem("inbox", "转介收件箱", "/admin/referrals/inbox"))
        items.append(NavItem("services", "本机构服务", "/admin/services"))
    if role in {"district_admin", "auditor"}:
        items.append(NavItem("pool", "资源库审核", "/admin/pool"))
    if role == "child_director":
        # The director's day, phone first: my children (the case board's successor for them), the notifications,
        # and the mandatory report's short form one tap away on every page.
        items.append(NavItem("children", "我的儿童", "/admin/children"))
        items.append(NavItem("notifications", "通知", "/admin/notifications"))
        items.append(NavItem("report", "⚠ 紧急上报", "/admin/report"))
    if role == "child_supervisor":
        # The supervisor's day: the street's board (overdue, escalations, workload) and the approvals waiting.
        items.append(NavItem("street", "街道看板", "/admin/street"))
        items.append(NavItem("approvals", "待我审批", "/admin/street/approvals"))
    if role in NOTIFIED_ROLES and role != "child_director":
        # Escalations, reminders and notices reach these roles too.
        items.append(NavItem("notifications", "通知", "/admin/notifications"))
    if role in {
        "district_admin",
        "auditor",
        "child_supervisor",
    }:
        items.append(NavItem("cases", "个案看板", "/admin/cases"))
    if role in {
        "district_admin",
        "auditor",
        "child_supervisor",
        "child_director",
        "org_staff",
    }:
        items.append(NavItem("referrals", "收到的转介" if role == "org_staff" else "转介看板", "/admin/referrals"))
    if role in {"district_admin", "auditor", "child_supervisor", "child_director"}:
        items.append(NavItem("mandatory_reports", "强制报告", "/admin/mandatory-reports"))
        items.append(NavItem("guardianship", "监护管理", "/admin/guardianship"))
        items.append(NavItem("safety", "安全预警", "/admin/safety"))
        items.append(NavItem("families", "亲情联系", "/admin/families"))
        items.append(NavItem("places", "儿童阵地", "/admin/places"))
        items.append(NavItem("intakes", "来电与反映", "/admin/intakes"))
        # The workforce: the director's own assessment and training; the others' people in scope.
        mine = role == "child_director"
        items.append(NavItem("workforce", "我的考核" if mine else "队伍建设", "/admin/workforce"))
    if role in {"district_admin", "auditor", "child_supervisor", "child_director", "org_staff"}:
        items.append(NavItem("conferences", "个案会商", "/admin/conferences"))
    if role in {"district_admin", "auditor", "child_supervisor", "child_director", "org_staff"}:
        items.append(NavItem("volunteers", "志愿者", "/admin/volunteers"))
    if role in {"fund_manager", "district_admin", "auditor"}:
        items.append(NavItem("funds", "公益基金", "/admin/funds"))
    if role in {"fund_manager", "district_admin", "auditor", "child_supervisor"}:
        # The charity resources (issue #21): every fund by kind and street; a supervisor sees the own street's.
        items.append(NavItem("fund_sources", "慈善资源", "/admin/funds/sources"))
    if role in {
        "procurement_officer",
        "district_admin",
        "auditor",
    }:
        items.append(NavItem("procurement", "预算与采购", "/admin/procurement"))
    if role in {"district_admin", "auditor", "procurement_officer"}:
        items.append(NavItem("allowances", "补贴发放", "/admin/allowances"))
        items.append(NavItem("festivals", "节日慰问", "/admin/allowances/festivals"))
    if role in {"district_admin", "auditor", "child_supervisor"}:
        items.append(NavItem("reports", "报表与导出", "/admin/reports"))
    if role in {"district_admin", "auditor"}:
        items.append(NavItem("audit", "审计日志", "/admin/audit"))
        items.append(NavItem("accounts", "账号管理", "/admin/accounts"))
        items.append(NavItem("applications", "机构入驻申请", "/admin/applications"))
        items.append(NavItem("messaging", "消息投递", "/admin/messaging"))
    if role == "org_staff":
        items.append(NavItem("org", "机构资料", "/admin/org"))
        items.append(NavItem("people", "社工与志愿服务队", "/admin/org/people"))
    if role == "org_staff" and principal.org_admin:
        items.append(NavItem("staff", "本机构人员", "/admin/staff"))
    return items


def page_context(request: Request[Any, Any, Any], principal: Principal | None, active: str) -> dict[str, Any]:
    return {
        "principal": principal,
        "role_label": ROLES.get(principal.role, principal.role) if principal else "",
        "nav": navigation(principal) if principal else [],
        "unread_notifications": request.scope.get(UNREAD, 0) if principal else 0,
        "active": active,
        "csrf": csrf_token(request),
        "path": request.url.path,
    }


def state_settings(state: State) -> Settings:
    settings: Settings = state.settings
    return settings
