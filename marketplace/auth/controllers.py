from __future__ import annotations

from typing import Any, TypeAlias

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.auth import service
from marketplace.auth.principal import ROLES, Principal
from marketplace.auth.schemas import LoginIn, MeOut, TokenOut
from marketplace.errors import TooManyRequests
from marketplace.settings import Settings

# The features take these names from marketplace.deps, which names the current user after this package's
# Principal and so sits above auth: auth's own controller spells them out. Litestar injects a NamedDependency
# by its parameter's name, so they are the same dependencies as deps' aliases of the same names.
DbSession: TypeAlias = NamedDependency[AsyncSession]
AppSettings: TypeAlias = NamedDependency[Settings]
CurrentUser: TypeAlias = NamedDependency[Principal]


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]

    @post("/login", operation_id="login", summary="登录", status_code=200)
    async def login(
        self, data: JSONBody[LoginIn], session: DbSession, settings: AppSettings, request: Request[Any, Any, Any]
    ) -> TokenOut:
        throttle = request.app.state.login_throttle
        client = request.client.host if request.client else "unknown"
        if not (throttle.hit(f"user:{data.username}") and throttle.hit(f"ip:{client}")):
            raise TooManyRequests("登录尝试过多，请一分钟后再试 (too many login attempts)")
        user = await service.authenticate(session, data.username, data.password)
        return TokenOut(
            access_token=service.issue_token(user, settings),
            token_type="bearer",  # noqa: S106
            role=user.role,
            expires_in=settings.token_ttl_seconds,
        )

    @get("/me", operation_id="me", summary="当前用户")
    async def me(self, principal: CurrentUser) -> MeOut:
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
        )


ROUTES = [AuthController]
