from __future__ import annotations

import datetime as dt

import jwt
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.auth.models import User
from marketplace.auth.passwords import verify_password
from marketplace.auth.principal import Principal
from marketplace.db import utcnow
from marketplace.errors import Unauthorized
from marketplace.settings import Settings

ALGORITHM = "HS256"


def principal_of(user: User) -> Principal:
    return Principal(
        user_id=user.id,
        username=user.username,
        role=user.role,
        display_name=user.display_name,
        street_id=user.street_id,
        community_id=user.community_id,
        organization_id=user.organization_id,
    )


async def authenticate(session: AsyncSession, username: str, password: str) -> User:
    user = await session.scalar(select(User).where(User.username == username))
    if not verify_password(user.password_hash if user else None, password) or user is None:
        raise Unauthorized("用户名或密码错误 (wrong username or password)")
    if not user.is_active:
        raise Unauthorized("账号已停用 (account disabled)")
    user.last_login_at = utcnow()
    return user


def revoke_sessions(user: User) -> None:
    """End every token and console session of ``user`` at its next request (they carry an older version)."""
    user.token_version = (user.token_version or 0) + 1


def issue_token(user: User, settings: Settings) -> str:
    now = utcnow()
    claims = {
        "sub": str(user.id),
        "role": user.role,
        "iat": int(now.timestamp()),
        "exp": int((now + dt.timedelta(seconds=settings.token_ttl_seconds)).timestamp()),
    }
    return jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM)


def decode_token(token: str, settings: Settings) -> int:
    try:
        # Lifetimes are checked against the app's clock (marketplace.clock), not PyJWT's reading of the system's.
        claims = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[ALGORITHM],
            options={"require": ["exp"], "verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
        if int(claims["exp"]) <= clock.timestamp():
            raise jwt.ExpiredSignatureError("expired")
        return int(claims["sub"])
    except (jwt.PyJWTError, KeyError, ValueError) as exc:
        raise Unauthorized("登录已失效，请重新登录 (invalid or expired token)") from exc


async def principal_for_token(session: AsyncSession, token: str, settings: Settings) -> Principal:
    user_id = decode_token(token, settings)
    user = await session.get(User, user_id)
    if user is None or not user.is_active:
        raise Unauthorized("账号不存在或已停用 (unknown or disabled account)")
    return principal_of(user)
