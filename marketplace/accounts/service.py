"""Staff accounts: list, create, edit, disable, reset by one-time code, login failures, handover.

Who may do what: district admins manage every account; an organization's own admin (role ``org_staff`` with
``is_org_admin``) manages the ``org_staff`` accounts of its organization only. Every change is audited.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.accounts.schemas import (
    CreatedUserOut,
    HandoverIn,
    HandoverOut,
    LoginFailureOut,
    OneTimeCodeOut,
    UserIn,
    UserOut,
    UserPatch,
)
from marketplace.auth.principal import Principal


async def list_users(
    session: AsyncSession,
    principal: Principal,
    *,
    q: str | None = None,
    role: str | None = None,
    active: bool | None = None,
    organization_id: int | None = None,
    limit: int = 20,
    offset: int = 0,
) -> tuple[list[UserOut], int]:
    raise NotImplementedError


async def get_user(session: AsyncSession, principal: Principal, user_id: int) -> UserOut:
    raise NotImplementedError


async def create_user(session: AsyncSession, principal: Principal, data: UserIn) -> CreatedUserOut:
    """A new account that must choose its own password: it gets an activation code (shown once)."""
    raise NotImplementedError


async def update_user(session: AsyncSession, principal: Principal, user_id: int, data: UserPatch) -> UserOut:
    """A role or scope change revokes the account's tokens and console sessions."""
    raise NotImplementedError


async def disable_user(session: AsyncSession, principal: Principal, user_id: int) -> UserOut:
    raise NotImplementedError


async def enable_user(session: AsyncSession, principal: Principal, user_id: int) -> UserOut:
    raise NotImplementedError


async def reset_password(session: AsyncSession, principal: Principal, user_id: int) -> OneTimeCodeOut:
    """A one-time reset code that expires; the old password stops working and the account's sessions end."""
    raise NotImplementedError


async def login_failures(
    session: AsyncSession, principal: Principal, user_id: int, *, limit: int = 20
) -> list[LoginFailureOut]:
    raise NotImplementedError


async def handover(session: AsyncSession, principal: Principal, data: HandoverIn) -> HandoverOut:
    """Move a community's (director) or street's (supervisor) caseload to another account in one action."""
    raise NotImplementedError
