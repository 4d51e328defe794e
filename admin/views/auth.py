"""Console login and logout: a server-side session, the login throttle the API uses, CSRF on both."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.params import QueryParameter

from admin import sessions, web
from marketplace.auth import service as auth_service
from marketplace.deps import DbSession
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
    return web.render("login.html", csrf=web.csrf_token(request), next=_safe_next(next_), error=None, username="")


@post("/login", name="console-login-post")
async def login(request: Request[Any, Any, Any], session: DbSession, form: web.ConsoleForm) -> Response[str]:
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
        return web.render(
            "login.html",
            status_code=401 if error else 403,
            csrf=web.csrf_token(request),
            next=target,
            error=error or "无权使用工作台",
            username=username,
        )
    web.start_session(request, user)
    response: Response[str] = Response(
        content="", status_code=303, headers={"location": target, **web.SECURITY_HEADERS}
    )
    # A fresh CSRF token after login: a token seen before authentication is never trusted after it.
    response.delete_cookie(sessions.CSRF_COOKIE, path=sessions.CONSOLE_PATH)
    return response


@post("/logout", name="console-logout")
async def logout(request: Request[Any, Any, Any], form: web.ConsoleForm) -> Response[str]:
    # The stored session is deleted: the cookie, replayed later, names nothing.
    web.end_session(request)
    response: Response[str] = Response(
        content="", status_code=303, headers={"location": "/admin/login", **web.SECURITY_HEADERS}
    )
    response.delete_cookie(sessions.CSRF_COOKIE, path=sessions.CONSOLE_PATH)
    return response


ROUTES = [login_page, login, logout]
