"""The console's plumbing: templates, the signed session cookie, CSRF, the caller, and HTML error pages.

The console calls the same services as the API with the same ``Principal``; only the way the caller proves who
they are differs (a signed, HttpOnly session cookie instead of a bearer token).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import importlib.util
import json
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeAlias
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, select_autoescape
from litestar import Request, Response
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from markupsafe import Markup

from marketplace import clock
from marketplace.auth.models import User
from marketplace.auth.principal import ROLES, Principal
from marketplace.auth.service import principal_of
from marketplace.deps import DbSession
from marketplace.errors import TITLES, DomainError, Forbidden
from marketplace.settings import Settings

log = logging.getLogger("marketplace.admin")

COOKIE = "mp_console"
CSRF_FIELD = "_csrf"
CSRF_HEADER = "x-csrf-token"
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


# ---------------------------------------------------------------- which features have landed


def section_ready(key: str, feature: str) -> bool:
    """A console section shows once both its feature's service and the console's page for it exist."""
    return has_module(feature) and has_module(f"admin.views.{key}")


def has_module(name: str) -> bool:
    """True when a feature's module exists; the console shows a section only for features that are there."""
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


# ---------------------------------------------------------------- templates


def fen_text(value: int | None) -> str:
    """Integer fen as ¥1,234.56 (— for none)."""
    if value is None:
        return "—"
    sign = "-" if value < 0 else ""
    yuan, fen = divmod(abs(int(value)), 100)
    return f"{sign}¥{yuan:,}.{fen:02d}"


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


def render(
    template: str, status_code: int = 200, headers: Mapping[str, str] | None = None, **context: Any
) -> Response[str]:
    html = environment().get_template(template).render(**context)
    return Response(
        content=html,
        status_code=status_code,
        media_type="text/html; charset=utf-8",
        headers={**SECURITY_HEADERS, **(headers or {})},
    )


# ---------------------------------------------------------------- the signed session cookie


@dataclass
class ConsoleSession:
    csrf: str
    user_id: int | None = None
    expires: int = 0
    flash: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"c": self.csrf, "u": self.user_id, "e": self.expires}


def _sign(secret: str, payload: bytes) -> str:
    return hmac.new(secret.encode(), b"console-session:" + payload, hashlib.sha256).hexdigest()


def encode_session(settings: Settings, data: ConsoleSession) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(data.to_dict(), separators=(",", ":")).encode())
    return payload.decode() + "." + _sign(settings.secret_key, payload)


def decode_session(settings: Settings, raw: str | None) -> ConsoleSession | None:
    if not raw or "." not in raw or len(raw) > 2000:
        return None
    payload, _, signature = raw.rpartition(".")
    if not hmac.compare_digest(signature, _sign(settings.secret_key, payload.encode())):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(payload.encode()))
        session = ConsoleSession(csrf=str(data["c"]), user_id=data.get("u"), expires=int(data.get("e") or 0))
    except (ValueError, KeyError, TypeError):
        return None
    if session.user_id is not None and session.expires < time.time():
        # An expired login keeps its CSRF token so the login form still works, but no longer names a user.
        session.user_id = None
    return session


def new_session() -> ConsoleSession:
    return ConsoleSession(csrf=secrets.token_urlsafe(32))


def console_session(request: Request[Any, Any, Any]) -> ConsoleSession:
    cached = request.scope.get("console_session")
    if isinstance(cached, ConsoleSession):
        return cached
    settings: Settings = request.app.state.settings
    session = decode_session(settings, request.cookies.get(COOKIE)) or new_session()
    request.scope["console_session"] = session  # type: ignore[typeddict-unknown-key]
    return session


def set_session_cookie(request: Request[Any, Any, Any], response: Response[Any], data: ConsoleSession) -> None:
    settings: Settings = request.app.state.settings
    response.set_cookie(
        COOKIE,
        encode_session(settings, data),
        path="/admin",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        max_age=settings.token_ttl_seconds,
    )


# ---------------------------------------------------------------- the caller


# The posted form after its CSRF check (``provide_form``); handlers take it as ``form: ConsoleForm``.
ConsoleForm: TypeAlias = NamedDependency[dict[str, str]]


class LoginRequired(Exception):
    """No valid console session: send the browser to the login page."""


async def provide_console_principal(request: Request[Any, Any, Any], session: DbSession) -> Principal:
    cached = request.scope.get("principal")
    if isinstance(cached, Principal):
        return cached
    data = console_session(request)
    if data.user_id is None:
        raise LoginRequired
    user = await session.get(User, data.user_id)
    if user is None or not user.is_active or user.role not in CONSOLE_ROLES:
        raise LoginRequired
    principal = principal_of(user)
    request.scope["principal"] = principal  # type: ignore[typeddict-unknown-key]
    return principal


async def provide_form(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The posted form, after the CSRF check every console POST must pass (header for HTMX, field for forms)."""
    form = await request.form()
    values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    expected = console_session(request).csrf
    sent = request.headers.get(CSRF_HEADER) or values.get(CSRF_FIELD, "")
    if not sent or not hmac.compare_digest(sent, expected):
        raise Forbidden("页面已过期或请求来源不明，请刷新后重试 (CSRF token missing or wrong)")
    values.pop(CSRF_FIELD, None)
    return values


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("hx-request") == "true"


# ---------------------------------------------------------------- HTML errors


def login_redirect(request: Request[Any, Any, Any], _exc: Exception) -> Response[str]:
    target = "/admin/login?next=" + quote(request.url.path)
    if is_htmx(request):
        return Response(content="", status_code=200, headers={"HX-Redirect": target, **SECURITY_HEADERS})
    return Response(content="", status_code=303, headers={"location": target, **SECURITY_HEADERS})


def _error_response(request: Request[Any, Any, Any], status: int, detail: str) -> Response[str]:
    if is_htmx(request):
        # admin.js lets 4xx fragments swap into the flash area named here.
        return render(
            "_flash.html",
            status_code=status,
            headers={"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"},
            messages=[("error", detail)],
        )
    principal = request.scope.get("principal")
    ctx = page_context(request, principal if isinstance(principal, Principal) else None, "")
    return render(
        "error.html", status_code=status, status=status, title=TITLES.get(status, "错误"), detail=detail, **ctx
    )


def domain_error_page(request: Request[Any, Any, Any], exc: DomainError) -> Response[str]:
    return _error_response(request, exc.status_code, exc.detail)


def http_error_page(request: Request[Any, Any, Any], exc: HTTPException) -> Response[str]:
    status = exc.status_code
    detail = exc.detail if status < 500 else "服务器内部错误"
    if status == 400:
        detail = "请求参数有误 (bad request)"
    return _error_response(request, status, detail or TITLES.get(status, "错误"))


def internal_error_page(request: Request[Any, Any, Any], exc: Exception) -> Response[str]:
    log.exception("console error on %s %s", request.method, request.url.path, exc_info=exc)
    return _error_response(request, 500, "服务器内部错误，请稍后重试 (internal error)")


EXCEPTION_HANDLERS: dict[Any, Any] = {
    LoginRequired: login_redirect,
    DomainError: domain_error_page,
    HTTPException: http_error_page,
    Exception: internal_error_page,
}


# ---------------------------------------------------------------- navigation


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str
    href: str


def navigation(principal: Principal) -> list[NavItem]:
    """The sections this role may open, each only when its feature has landed."""
    role = principal.role
    items = [NavItem("dashboard", "工作台", "/admin/")]
    if role in {"district_admin", "auditor", "org_staff"}:
        items.append(NavItem("pool", "资源库审核" if role != "org_staff" else "本机构服务", "/admin/pool"))
    if section_ready("cases", "marketplace.cases.service") and role in {
        "district_admin",
        "auditor",
        "child_supervisor",
        "child_director",
    }:
        items.append(NavItem("cases", "个案看板", "/admin/cases"))
    if section_ready("referrals", "marketplace.referrals.service") and role in {
        "district_admin",
        "auditor",
        "child_supervisor",
        "child_director",
        "org_staff",
    }:
        items.append(NavItem("referrals", "收到的转介" if role == "org_staff" else "转介看板", "/admin/referrals"))
    if section_ready("funds", "marketplace.funds.service") and role in {"fund_manager", "district_admin", "auditor"}:
        items.append(NavItem("funds", "公益基金", "/admin/funds"))
    if section_ready("procurement", "marketplace.procurement.service") and role in {
        "procurement_officer",
        "district_admin",
        "auditor",
    }:
        items.append(NavItem("procurement", "预算与采购", "/admin/procurement"))
    if role in {"district_admin", "auditor", "child_supervisor"}:
        items.append(NavItem("reports", "报表与导出", "/admin/reports"))
    if section_ready("audit", "marketplace.audit.service") and role in {"district_admin", "auditor"}:
        items.append(NavItem("audit", "审计日志", "/admin/audit"))
    return items


def page_context(request: Request[Any, Any, Any], principal: Principal | None, active: str) -> dict[str, Any]:
    return {
        "principal": principal,
        "role_label": ROLES.get(principal.role, principal.role) if principal else "",
        "nav": navigation(principal) if principal else [],
        "active": active,
        "csrf": console_session(request).csrf,
        "path": request.url.path,
    }


def state_settings(state: State) -> Settings:
    settings: Settings = state.settings
    return settings
