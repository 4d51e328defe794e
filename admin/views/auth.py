"""Console sign-in: login, logout, the first-login password page, changing one's password, activation by code.

The same functions as the API's ``/api/v1/auth/...`` (``marketplace.accounts.signin``): the same throttle of failed
attempts, failure log and audit rows. A server-side session, CSRF on every form.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.params import QueryParameter

from admin import sessions, web
from marketplace.accounts import signin
from marketplace.auth.models import User
from marketplace.auth.principal import OPEN_BEFORE_PASSWORD_CHANGE, Principal
from marketplace.deps import CurrentUser, DbSession
from marketplace.errors import DomainError, Invalid, TooManyRequests, Unauthorized

OPEN = {OPEN_BEFORE_PASSWORD_CHANGE: True}
MISMATCH = "两次输入的新密码不一致 (the two new passwords differ)"


def _safe_next(target: str | None) -> str:
    # Only local console paths: never an open redirect to another site (//evil, /\evil, http://...).
    if target and target.startswith("/admin") and not target.startswith(("//", "/\\")) and "\\" not in target:
        return target
    return "/admin/"


def _redirect(target: str, *, new_csrf: bool = True) -> Response[str]:
    response: Response[str] = Response(
        content="", status_code=303, headers={"location": target, **web.SECURITY_HEADERS}
    )
    if new_csrf:
        # A fresh CSRF token after a login or a password change: one seen before is never trusted after it.
        response.delete_cookie(sessions.CSRF_COOKIE, path=sessions.CONSOLE_PATH)
    return response


def _refusal(exc: DomainError) -> tuple[int, str, dict[str, str]]:
    """Status, words and headers of a refused sign-in, for the page that shows it."""
    if isinstance(exc, TooManyRequests):
        return 429, exc.detail, exc.headers or {}
    return exc.status_code, exc.detail, {}


async def _account(session: DbSession, principal: Principal) -> User:
    user = await session.get(User, principal.user_id)
    if user is None:
        raise web.LoginRequired
    return user


# ---------------------------------------------------------------- login and logout


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

    def page(status: int, error: str, headers: dict[str, str] | None = None) -> Response[str]:
        return web.render(
            "login.html",
            status_code=status,
            headers=headers,
            csrf=web.csrf_token(request),
            next=target,
            error=error,
            username=username,
        )

    if not username or not password:
        return page(401, "请输入用户名和密码")
    try:
        user = await signin.sign_in(
            session,
            signin.throttle_of(request.app.state),
            username,
            password,
            signin.client_address(request),
            via="console",
        )
    except (TooManyRequests, Unauthorized) as exc:
        return page(*_refusal(exc))
    if user.role not in web.CONSOLE_ROLES:
        return page(403, "无权使用工作台")
    web.start_session(request, user)
    return _redirect(web.SET_PASSWORD_PATH if user.must_change_password else target)


@post("/logout", name="console-logout", opt=OPEN)
async def logout(request: Request[Any, Any, Any], session: DbSession, form: web.ConsoleForm) -> Response[str]:
    # Logging out ends every session and token of the account, not only this browser's (as the API's logout).
    user_id = request.session.get("uid") if request.session else None
    if isinstance(user_id, int):
        user = await session.get(User, user_id)
        if user is not None and user.is_active and request.session.get("stamp") == web.account_stamp(user):
            await signin.sign_out(session, user, via="console")
    # The stored session is deleted: the cookie, replayed later, names nothing.
    web.end_session(request)
    response: Response[str] = Response(
        content="", status_code=303, headers={"location": "/admin/login", **web.SECURITY_HEADERS}
    )
    response.delete_cookie(sessions.CSRF_COOKIE, path=sessions.CONSOLE_PATH)
    return response


# ---------------------------------------------------------------- one's own password


def _set_page(
    request: Request[Any, Any, Any], principal: Principal, status: int = 200, error: str | None = None
) -> Response[str]:
    context = web.page_context(request, principal, "password")
    # Nowhere else to go until the password is set: no navigation.
    context["nav"] = []
    return web.render("password_set.html", status_code=status, error=error, **context)


@get("/password/set", name="console-password-set", opt=OPEN)
async def set_password_page(request: Request[Any, Any, Any], principal: CurrentUser) -> Response[str]:
    if not principal.must_change_password:
        return _redirect("/admin/password", new_csrf=False)
    return _set_page(request, principal)


@post("/password/set", name="console-password-set-post", opt=OPEN)
async def set_password(
    request: Request[Any, Any, Any], principal: CurrentUser, session: DbSession, form: web.ConsoleForm
) -> Response[str]:
    """First login, or after an admin's reset: the session was opened with the password a moment ago and can do
    nothing else, so the new password alone (twice) sets it."""
    if not principal.must_change_password:
        return _redirect("/admin/password", new_csrf=False)
    new_password = form.get("new_password", "")[:201]
    if new_password != form.get("confirm_password", "")[:201]:
        return _set_page(request, principal, 422, MISMATCH)
    user = await _account(session, principal)
    try:
        await signin.change_password(
            session,
            signin.throttle_of(request.app.state),
            user,
            None,
            new_password,
            signin.client_address(request),
            via="console",
        )
    except Invalid as exc:
        return _set_page(request, principal, 422, exc.detail)
    # Every earlier session ended with the change; this browser continues under a new one.
    web.start_session(request, user)
    return _redirect("/admin/")


def _change_page(
    request: Request[Any, Any, Any],
    principal: Principal,
    status: int = 200,
    error: str | None = None,
    headers: dict[str, str] | None = None,
    *,
    done: bool = False,
) -> Response[str]:
    context = web.page_context(request, principal, "password")
    return web.render("password_change.html", status_code=status, headers=headers, error=error, done=done, **context)


@get("/password", name="console-password")
async def change_password_page(request: Request[Any, Any, Any], principal: CurrentUser) -> Response[str]:
    return _change_page(request, principal, done=request.query_params.get("done") == "1")


@post("/password", name="console-password-post")
async def change_password(
    request: Request[Any, Any, Any], principal: CurrentUser, session: DbSession, form: web.ConsoleForm
) -> Response[str]:
    current = form.get("current_password", "")[:200]
    new_password = form.get("new_password", "")[:201]
    if not current:
        return _change_page(request, principal, 422, "请输入当前密码")
    if new_password != form.get("confirm_password", "")[:201]:
        return _change_page(request, principal, 422, MISMATCH)
    user = await _account(session, principal)
    try:
        await signin.change_password(
            session,
            signin.throttle_of(request.app.state),
            user,
            current,
            new_password,
            signin.client_address(request),
            via="console",
        )
    except (Invalid, TooManyRequests) as exc:
        return _change_page(request, principal, *_refusal(exc))
    web.start_session(request, user)
    return _redirect("/admin/password?done=1")


# ---------------------------------------------------------------- activation by one-time code (public)


def _activate_page(
    request: Request[Any, Any, Any],
    username: str = "",
    status: int = 200,
    error: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response[str]:
    return web.render(
        "activate.html",
        status_code=status,
        headers=headers,
        csrf=web.csrf_token(request),
        error=error,
        username=username,
        principal=None,
    )


@get("/activate", name="console-activate", sync_to_thread=False)
def activate_page(request: Request[Any, Any, Any]) -> Response[str]:
    return _activate_page(request)


@post("/activate", name="console-activate-post")
async def activate(request: Request[Any, Any, Any], session: DbSession, form: web.ConsoleForm) -> Response[str]:
    username = form.get("username", "").strip()[:80]
    code = form.get("code", "")[:40]
    new_password = form.get("new_password", "")[:201]
    if not username or not code:
        return _activate_page(request, username, 401, "请输入用户名和激活码")
    if new_password != form.get("confirm_password", "")[:201]:
        return _activate_page(request, username, 422, MISMATCH)
    try:
        user = await signin.activate_account(
            session,
            signin.throttle_of(request.app.state),
            username,
            code,
            new_password,
            signin.client_address(request),
            via="console",
        )
    except (TooManyRequests, Unauthorized, Invalid) as exc:
        return _activate_page(request, username, *_refusal(exc))
    if user.role not in web.CONSOLE_ROLES:
        return _activate_page(request, username, 403, "无权使用工作台")
    web.start_session(request, user)
    return _redirect("/admin/")


ROUTES = [
    login_page,
    login,
    logout,
    set_password_page,
    set_password,
    change_password_page,
    change_password,
    activate_page,
    activate,
]
