"""Signing in and out: login, logout, one's own password change, activation by a one-time code, who am I.

The API's routes (``/api/v1/auth/...``) and the console's login pages (``admin.views.auth``) share the functions
below, so both throttle the same failures, keep the same failure log and write the same audit rows. This lives in
accounts (above audit) rather than in auth (below it) because every event here is audited.

Nothing here ever writes a password or a one-time code anywhere but into a hash: not into the audit detail, not
into a log line, not into the failure log.
"""

from __future__ import annotations

from typing import Any, Final

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.params import JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.audit import service as audit
from marketplace.auth import ratelimit
from marketplace.auth import service as auth_service
from marketplace.auth.codes import check_code
from marketplace.auth.models import LoginFailure, User
from marketplace.auth.passwords import verify_password
from marketplace.auth.policy import check_new_password
from marketplace.auth.principal import OPEN_BEFORE_PASSWORD_CHANGE, ROLES, Principal
from marketplace.auth.schemas import ActivateIn, LoginIn, MeOut, PasswordIn, TokenOut
from marketplace.auth.throttle import SignInThrottle
from marketplace.db import utcnow
from marketplace.deps import AppSettings, CurrentUser, DbSession
from marketplace.errors import Invalid, TooManyRequests, Unauthorized, problems
from marketplace.observability import metrics
from marketplace.settings import Settings

BAD_CODE: Final = "用户名或激活码无效，或激活码已过期、已使用 (invalid, expired or used code)"
WRONG_CURRENT: Final = "当前密码不正确 (the current password is wrong)"

# Routes an account that must still choose its own password may use (see marketplace.app.provide_principal).
OPEN: Final = {OPEN_BEFORE_PASSWORD_CHANGE: True}


def client_address(request: Request[Any, Any, Any]) -> str:
    """The client's address (``X-Forwarded-For`` believed only from ``MARKETPLACE_TRUSTED_PROXIES``)."""
    return ratelimit.limit_of(request).address_of(request)


def throttle_of(state: State) -> SignInThrottle:
    throttle: SignInThrottle = state.login_throttle
    return throttle


def _too_many(seconds: int) -> TooManyRequests:
    wait = max(int(seconds), 1)
    return TooManyRequests.retry_after(
        f"失败次数过多，请 {wait} 秒后再试 (too many failed attempts: retry after {wait} s)", wait
    )


async def _failed(
    session: AsyncSession,
    *,
    action: str,
    username: str,
    address: str,
    reason: str,
    user: User | None,
    throttle: SignInThrottle | None,
) -> None:
    """Log one failure (failure table and audit) and count it against the throttle; committed at once, because
    the refusal that follows rolls the request's transaction back."""
    username = username[:80]
    metrics.LOGIN_FAILURES.labels(action, reason).inc()  # a bounded set of actions and reasons; no names
    if throttle is not None and reason != "throttled":
        throttle.fail(username, address)
    session.add(LoginFailure(username=username, address=address, reason=reason, at=utcnow()))
    await audit.record(
        session,
        None,
        action,
        "user",
        user.id if user is not None else None,
        detail={"username": username, "address": address, "reason": reason},
    )
    await session.commit()


async def _refuse_if_throttled(
    session: AsyncSession,
    throttle: SignInThrottle,
    *,
    action: str,
    username: str,
    address: str,
    user: User | None,
) -> None:
    """429 (with Retry-After, logged as a throttled failure) while ``username`` at ``address`` must wait."""
    wait = throttle.retry_after(username, address)
    if wait:
        await _failed(
            session, action=action, username=username, address=address, reason="throttled", user=user, throttle=throttle
        )
        raise _too_many(wait)


async def sign_in(
    session: AsyncSession, throttle: SignInThrottle, username: str, password: str, address: str, *, via: str
) -> User:
    """The account whose password this is; 429 (with Retry-After) while throttled, 401 otherwise refused."""
    if throttle.retry_after(username, address):
        await _refuse_if_throttled(
            session,
            throttle,
            action="login_failed",
            username=username,
            address=address,
            user=await auth_service.user_by_username(session, username),
        )
    user, reason = await auth_service.check_credentials(session, username, password)
    if user is None or reason is not None:
        await _failed(
            session,
            action="login_failed",
            username=username,
            address=address,
            reason=reason or "unknown",
            user=user,
            throttle=throttle,
        )
        raise Unauthorized(auth_service.ACCOUNT_DISABLED if reason == "disabled" else auth_service.WRONG_CREDENTIALS)
    user.last_login_at = utcnow()
    await audit.record(
        session, auth_service.principal_of(user), "login", "user", user.id, detail={"address": address, "via": via}
    )
    return user


async def sign_out(session: AsyncSession, user: User, *, via: str) -> None:
    """End every token and console session of the account (not only the one asking)."""
    auth_service.revoke_sessions(user)
    await audit.record(session, auth_service.principal_of(user), "logout", "user", user.id, detail={"via": via})


async def change_password(
    session: AsyncSession,
    throttle: SignInThrottle,
    user: User,
    current_password: str | None,
    new_password: str,
    address: str,
    *,
    via: str,
) -> None:
    """The account sets its own password; every earlier token and console session ends.

    ``current_password`` is checked (and a wrong one counts as a failed login) unless it is None, which only the
    console's first-login page passes: that session was opened with the password a moment ago and can do nothing
    else until it sets its own.
    """
    if current_password is not None:
        await _refuse_if_throttled(
            session, throttle, action="password_change_failed", username=user.username, address=address, user=user
        )
        if not verify_password(user.password_hash, current_password):
            await _failed(
                session,
                action="password_change_failed",
                username=user.username,
                address=address,
                reason="password",
                user=user,
                throttle=throttle,
            )
            raise Invalid.field("current_password", WRONG_CURRENT)
    check_new_password(new_password, username=user.username, current_hash=user.password_hash, user_inputs=_about(user))
    first = bool(user.must_change_password)
    auth_service.set_password(user, new_password)
    await audit.record(
        session,
        auth_service.principal_of(user),
        "password_change",
        "user",
        user.id,
        ["password_hash"],
        detail={"via": via, "first_login": first},
    )


async def activate_account(
    session: AsyncSession,
    throttle: SignInThrottle,
    username: str,
    code: str,
    new_password: str,
    address: str,
    *,
    via: str,
) -> User:
    """Set the password of ``username`` with its one-time code (activation or an admin's reset); the code is
    used up. A wrong, expired or used code, an unknown or a disabled account all get the same 401."""
    user = await auth_service.user_by_username(session, username)
    await _refuse_if_throttled(
        session, throttle, action="activate_failed", username=username, address=address, user=user
    )
    if user is None:
        # The same work as a real check, so timing does not tell whether the account exists.
        verify_password(None, code)
        reason: str | None = "unknown"
    elif not check_code(user, code):
        reason = "code"
    elif not user.is_active:
        reason = "disabled"
    else:
        reason = None
    if user is None or reason is not None:
        await _failed(
            session,
            action="activate_failed",
            username=username,
            address=address,
            reason=reason or "code",
            user=user,
            throttle=throttle,
        )
        raise Unauthorized(BAD_CODE)
    check_new_password(new_password, username=user.username, current_hash=user.password_hash, user_inputs=_about(user))
    purpose = user.one_time_code_purpose or "activate"
    auth_service.set_password(user, new_password)  # also clears the code: it works once
    user.last_login_at = utcnow()
    await audit.record(
        session,
        auth_service.principal_of(user),
        "activate",
        "user",
        user.id,
        ["password_hash"],
        detail={"address": address, "purpose": purpose, "via": via},
    )
    return user


def _about(user: User) -> list[str]:
    """Words about the person that make a password easy to guess for whoever knows them."""
    return [s for s in (user.display_name, user.phone) if s]


def token_out(user: User, settings: Settings) -> TokenOut:
    return TokenOut(
        access_token=auth_service.issue_token(user, settings),
        token_type="bearer",  # noqa: S106
        role=user.role,
        expires_in=settings.token_ttl_seconds,
    )


def me_out(principal: Principal) -> MeOut:
    return MeOut(
        id=principal.user_id,
        username=principal.username,
        display_name=principal.display_name,
        role=principal.role,
        role_label=ROLES[principal.role],
        scope=principal.scope,
        street_id=principal.street_id,
        community_id=principal.community_id,
        organization_id=principal.organization_id,
        org_admin=principal.org_admin,
        must_change_password=principal.must_change_password,
    )


async def _account(session: AsyncSession, principal: Principal) -> User:
    user = await session.get(User, principal.user_id)
    if user is None:  # the token was checked this request: only a concurrent delete gets here
        raise Unauthorized("账号不存在或已停用 (unknown or disabled account)")
    return user


class SignInController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]

    @post("/login", operation_id="login", summary="登录", status_code=200, responses=problems(401, 429))
    async def login(
        self, data: JSONBody[LoginIn], session: DbSession, settings: AppSettings, request: Request[Any, Any, Any]
    ) -> TokenOut:
        user = await sign_in(
            session,
            throttle_of(request.app.state),
            data.username,
            data.password,
            client_address(request),
            via="api",
        )
        return token_out(user, settings)

    @get("/me", operation_id="me", summary="当前用户", opt=OPEN)
    async def me(self, principal: CurrentUser) -> MeOut:
        return me_out(principal)

    @post(
        "/logout",
        operation_id="logout",
        summary="退出登录（该账号的所有令牌和工作台会话失效）",
        status_code=204,
        opt=OPEN,
    )
    async def logout(self, principal: CurrentUser, session: DbSession) -> None:
        await sign_out(session, await _account(session, principal), via="api")

    @post(
        "/password",
        operation_id="change_password",
        summary="修改本人密码",
        status_code=200,
        opt=OPEN,
        responses=problems(429),
    )
    async def password(
        self,
        data: JSONBody[PasswordIn],
        principal: CurrentUser,
        session: DbSession,
        settings: AppSettings,
        request: Request[Any, Any, Any],
    ) -> TokenOut:
        user = await _account(session, principal)
        await change_password(
            session,
            throttle_of(request.app.state),
            user,
            data.current_password,
            data.new_password,
            client_address(request),
            via="api",
        )
        return token_out(user, settings)

    @post(
        "/activate",
        operation_id="activate",
        summary="用一次性激活码设置密码",
        status_code=200,
        responses=problems(401, 429),
    )
    async def activate(
        self, data: JSONBody[ActivateIn], session: DbSession, settings: AppSettings, request: Request[Any, Any, Any]
    ) -> TokenOut:
        user = await activate_account(
            session,
            throttle_of(request.app.state),
            data.username,
            data.code,
            data.new_password,
            client_address(request),
            via="api",
        )
        return token_out(user, settings)


ROUTES = [SignInController]
