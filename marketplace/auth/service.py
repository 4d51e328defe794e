from __future__ import annotations

import datetime as dt
from typing import Any

import jwt
from sqlalchemy import Connection, Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.auth.codes import clear_code
from marketplace.auth.models import User
from marketplace.auth.passwords import hash_password, verify_password
from marketplace.auth.principal import Principal
from marketplace.db import Database, utcnow
from marketplace.errors import Unauthorized
from marketplace.ids import MAX_ID
from marketplace.settings import Settings

ALGORITHM = "HS256"


def principal_of(user: User | Row[Any]) -> Principal:
    """The principal of an account (its ORM object, or its row as ``load_principal`` reads it)."""
    return Principal(
        user_id=user.id,
        username=user.username,
        role=user.role,
        display_name=user.display_name,
        street_id=user.street_id,
        community_id=user.community_id,
        organization_id=user.organization_id,
        org_admin=bool(user.is_org_admin),
        must_change_password=bool(user.must_change_password),
    )


WRONG_CREDENTIALS = "用户名或密码错误 (wrong username or password)"
ACCOUNT_DISABLED = "账号已停用 (account disabled)"


async def user_by_username(session: AsyncSession, username: str) -> User | None:
    return await session.scalar(select(User).where(User.username == username))


async def check_credentials(session: AsyncSession, username: str, password: str) -> tuple[User | None, str | None]:
    """``(user, None)`` when the password is right and the account active, else ``(user or None, reason)``.

    The reason is ``unknown``, ``password`` or ``disabled`` (for the failure log; the caller's answer does not tell
    an unknown account from a wrong password). An unknown name costs a hash check too, so timing does not tell.
    """
    user = await user_by_username(session, username)
    if not verify_password(user.password_hash if user else None, password) or user is None:
        return user, "unknown" if user is None else "password"
    if not user.is_active:
        return user, "disabled"
    return user, None


def set_password(user: User, new_password: str) -> None:
    """The account's own new password (the policy was checked by the caller): any pending one-time code is void,
    the first-login gate opens, and every token and console session issued before ends."""
    user.password_hash = hash_password(new_password)
    user.password_changed_at = utcnow()
    user.must_change_password = False
    clear_code(user)
    revoke_sessions(user)


def revoke_sessions(user: User) -> None:
    """End every token and console session of ``user`` at its next request (they carry an older version)."""
    user.token_version = (user.token_version or 0) + 1


def issue_token(user: User, settings: Settings) -> str:
    now = utcnow()
    claims = {
        "sub": str(user.id),
        "role": user.role,
        # The account's token version: revoke_sessions bumps it and every older token stops working.
        "ver": int(user.token_version or 0),
        "iat": int(now.timestamp()),
        "exp": int((now + dt.timedelta(seconds=settings.token_ttl_seconds)).timestamp()),
    }
    return jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM)


def decode_token(token: str, settings: Settings) -> tuple[int, int]:
    """``(user id, token version)`` of a valid, unexpired token signed with our key; else 401."""
    user_id, version, _expires = decode_claims(token, settings)
    return user_id, version


def decode_claims(token: str, settings: Settings) -> tuple[int, int, int]:
    """``(user id, token version, expiry as a Unix time)`` of a valid, unexpired token signed with our key; else 401."""
    try:
        # Lifetimes are checked against the app's clock (marketplace.clock), not PyJWT's reading of the system's.
        claims = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[ALGORITHM],
            options={"require": ["exp", "sub", "ver"], "verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
        if int(claims["exp"]) <= clock.timestamp():
            raise jwt.ExpiredSignatureError("expired")
        user_id, version = int(claims["sub"]), int(claims["ver"])
        # An id outside the database's integer range names no account (and would overflow the lookup).
        if not 1 <= user_id <= MAX_ID or not 0 <= version <= MAX_ID:
            raise ValueError("sub or ver out of range")
        return user_id, version, int(claims["exp"])
    except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
        raise Unauthorized("登录已失效，请重新登录 (invalid or expired token)") from exc


UNKNOWN_ACCOUNT = "账号不存在或已停用 (unknown or disabled account)"
REVOKED = "登录已失效（已退出、改密或被停用），请重新登录 (token revoked: sign in again)"

_users = User.__table__
_PRINCIPAL_COLUMNS = select(
    _users.c.id,
    _users.c.username,
    _users.c.role,
    _users.c.display_name,
    _users.c.street_id,
    _users.c.community_id,
    _users.c.organization_id,
    _users.c.is_org_admin,
    _users.c.must_change_password,
    _users.c.is_active,
    _users.c.token_version,
)


def _principal_row(conn: Connection, user_id: int) -> Any:
    return conn.execute(_PRINCIPAL_COLUMNS.where(_users.c.id == user_id)).first()


async def load_principal(db: Database, user_id: int, version: int) -> Principal:
    """The principal of account ``user_id`` if it is active and still at token ``version`` (one indexed read)."""
    row = await db.read(_principal_row, user_id)
    if row is None or not row.is_active:
        raise Unauthorized(UNKNOWN_ACCOUNT)
    if version != int(row.token_version or 0):
        raise Unauthorized(REVOKED)
    return principal_of(row)
