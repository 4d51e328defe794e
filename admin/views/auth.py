"""Console login and logout: a signed session cookie, the login throttle the API uses, CSRF on both."""

from __future__ import annotations

import time
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.params import QueryParameter

from admin import web
from marketplace.auth import service as auth_service
from marketplace.deps import AppSettings, DbSession
from marketplace.errors import TooManyRequests, Unauthorized


def _safe_next(target: str | None) -> str:
    # Only local console paths: never an open redirect to another site (//evil, /\evil, http://...).
    if target and target.startswith("/admin") and not target.startswith(("//", "/\\")) and "\\" not in target:
        return target
    return "/admin/"


@get("/login", name="console-login", sync_to_thread=False)
def login_page(
    request: Request[Any, Any, Any], next_: Annotated[str | None, QueryParameter(name="next")] = None
) -> Response[str]:
    data = web.console_session(request)
    response = web.render("login.html", csrf=data.csrf, next=_safe_next(next_), error=None, username="")
    web.set_session_cookie(request, response, web.ConsoleSession(csrf=data.csrf))
    return response


@post("/login", name="console-login-post")
async def login(
    request: Request[Any, Any, Any], session: DbSession, settings: AppSettings, form: web.ConsoleForm
) -> Response[str]:
    username = form.get("username", "").strip()[:80]
    password = form.get("password", "")[:200]
    target = _safe_next(form.get("next"))
    throttle = request.app.state.login_throttle
    client = request.client.host if request.client else "unknown"
    error: str | None = None
    user = None
    if not username or not password:
        error = "请输入用户名和密码"
    elif not (throttle.hit(f"user:{username}") and throttle.hit(f"ip:{client}")):
        error = TooManyRequests("登录尝试过多，请一分钟后再试").detail
    else:
        try:
            user = await auth_service.authenticate(session, username, password)
        except Unauthorized as exc:
            error = exc.detail
    if user is None or user.role not in web.CONSOLE_ROLES:
        csrf = web.console_session(request).csrf
        return web.render(
            "login.html",
            status_code=401 if error else 403,
            csrf=csrf,
            next=target,
            error=error or "无权使用工作台",
            username=username,
        )
    # A fresh CSRF token at login: a token seen before authentication is never trusted after it.
    data = web.new_session()
    data.user_id = user.id
    data.expires = int(time.time()) + settings.token_ttl_seconds
    response: Response[str] = Response(
        content="", status_code=303, headers={"location": target, **web.SECURITY_HEADERS}
    )
    web.set_session_cookie(request, response, data)
    return response


@post("/logout", name="console-logout")
async def logout(request: Request[Any, Any, Any], form: web.ConsoleForm) -> Response[str]:
    response: Response[str] = Response(
        content="", status_code=303, headers={"location": "/admin/login", **web.SECURITY_HEADERS}
    )
    response.delete_cookie(web.COOKIE, path="/admin")
    return response


ROUTES = [login_page, login, logout]
