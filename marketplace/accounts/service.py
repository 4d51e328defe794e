"""Staff accounts: list, create, edit, disable, reset by one-time code, login failures, handover.

Who may do what: district admins manage every account; an organization's own admin (role ``org_staff`` with
``is_org_admin``) manages the ``org_staff`` accounts of its organization only; auditors read everything (phone
numbers masked); nobody else sees accounts. Every change is audited, never with a password or a code in it.

The command line acts as the system (:data:`SYSTEM`): a district admin that is no account, audited as ``cli``.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import msgspec
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import outbox
from marketplace.accounts.models import Handover
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
from marketplace.audit import service as audit
from marketplace.auth import codes
from marketplace.auth.models import LoginFailure, User
from marketplace.auth.principal import ROLES, Principal, scope_of
from marketplace.auth.service import revoke_sessions
from marketplace.db import utcnow
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.geography.models import Community, Street
from marketplace.masking import mask_phone
from marketplace.pagination import fetch_page
from marketplace.resources.models import Organization

# The outbox topic of a handover: the features above accounts (cases' notifications, …) move what they keep per
# user id from the old account to the new one. Payload: handover_id, from_user_id, to_user_id, role.
HANDOVER_TOPIC: Final = "accounts.handover"

# The system acting from the command line: district powers, no account behind it (audited as "cli").
SYSTEM: Final = Principal(user_id=0, username="cli", role="district_admin", display_name="命令行")

# Who reads the list of accounts: the district's admins, and auditors (read only, phone numbers masked).
READERS: Final = frozenset({"district_admin", "auditor"})
SCOPE_FIELDS: Final = ("street_id", "community_id", "organization_id")
RECENT_FAILURES: Final = dt.timedelta(hours=24)


def control_characters(field: str, value: str, *, multiline: bool = False) -> list[dict[str, Any]]:
    """An error for text with control characters (a NUL byte cannot even be stored in PostgreSQL text)."""
    allowed = {"\n", "\r", "\t"} if multiline else set()
    if any((ord(ch) < 32 or ord(ch) == 127) and ch not in allowed for ch in value):
        return [{"field": field, "message": "含有控制字符 (control characters are not allowed)"}]
    return []


def check_text(*, multiline: bool = False, **fields: str) -> None:
    errors = [e for field, value in fields.items() for e in control_characters(field, value, multiline=multiline)]
    if errors:
        raise Invalid("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)


def unusable_password() -> str:
    """A stored password no password can match (not an argon2 hash at all): the account must use its code."""
    return "!" + secrets.token_hex(24)


# ---------------------------------------------------------------- who is asking


@dataclass(frozen=True)
class Actor:
    """What the caller may do with accounts: ``district`` (all), ``auditor`` (read all), ``org_admin`` (its org)."""

    kind: str
    principal: Principal

    @property
    def organization_id(self) -> int | None:
        return self.principal.organization_id if self.kind == "org_admin" else None


async def actor_of(session: AsyncSession, principal: Principal, *, write: bool) -> Actor:
    if principal.role == "district_admin":
        return Actor("district", principal)
    if principal.role == "auditor":
        if write:
            raise Forbidden("审计账号只读 (auditors may not change accounts)")
        return Actor("auditor", principal)
    # The principal is read from the account on every request, so its org_admin flag is current.
    if principal.role == "org_staff" and principal.organization_id is not None and principal.org_admin:
        return Actor("org_admin", principal)
    raise Forbidden("仅区民政管理员或机构管理员可管理账号 (only district or organization admins manage accounts)")


def may_manage(actor: Actor, user: User) -> bool:
    """Whether ``actor`` may see (and, unless an auditor, change) ``user``."""
    if actor.kind in {"district", "auditor"}:
        return True
    return user.role == "org_staff" and user.organization_id == actor.organization_id


async def load_user(session: AsyncSession, actor: Actor, user_id: int, *, lock: bool = False) -> User:
    stmt = select(User).where(User.id == user_id)
    if lock:
        stmt = stmt.with_for_update()
    user = await session.scalar(stmt)
    if user is None or not may_manage(actor, user):
        raise NotFound(f"账号 {user_id} 不存在 (account not found)")
    return user


def check_org_admin_target(actor: Actor, user: User) -> None:
    """An organization admin changes its plain staff; other admins of the organization are the district's."""
    if actor.kind == "org_admin" and user.is_org_admin and user.id != actor.principal.user_id:
        raise Forbidden("机构管理员账号由区民政管理 (organization admins are managed by the district)")


# ---------------------------------------------------------------- shapes


def user_out(user: User, actor: Actor | None = None, *, recent_failures: int = 0) -> UserOut:
    phone = user.phone or ""
    if actor is not None and actor.kind == "auditor":
        phone = mask_phone(phone)
    return UserOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        phone=phone,
        role=user.role,
        role_label=ROLES.get(user.role, user.role),
        scope=scope_of(user.role),
        street_id=user.street_id,
        community_id=user.community_id,
        organization_id=user.organization_id,
        is_org_admin=user.is_org_admin,
        is_active=user.is_active,
        must_change_password=user.must_change_password,
        last_login_at=user.last_login_at,
        created_at=user.created_at,
        disabled_at=user.disabled_at,
        recent_failures=recent_failures,
    )


async def failure_counts(session: AsyncSession, usernames: Sequence[str]) -> dict[str, int]:
    """Failed logins of the last 24 hours per username, in one query."""
    if not usernames:
        return {}
    since = utcnow() - RECENT_FAILURES
    rows = await session.execute(
        select(LoginFailure.username, func.count())
        .where(LoginFailure.username.in_(list(set(usernames))), LoginFailure.at >= since)
        .group_by(LoginFailure.username)
    )
    return {name: int(n) for name, n in rows.all()}


async def users_out(session: AsyncSession, actor: Actor, users: Sequence[User]) -> list[UserOut]:
    counts = await failure_counts(session, [u.username for u in users])
    return [user_out(u, actor, recent_failures=counts.get(u.username, 0)) for u in users]


async def one_out(session: AsyncSession, actor: Actor, user: User) -> UserOut:
    await session.flush()
    return (await users_out(session, actor, [user]))[0]


def code_out(user: User, purpose: str, code: str, expires_at: dt.datetime) -> OneTimeCodeOut:
    return OneTimeCodeOut(user_id=user.id, username=user.username, purpose=purpose, code=code, expires_at=expires_at)


# ---------------------------------------------------------------- scope rules


@dataclass
class Scope:
    role: str
    street_id: int | None
    community_id: int | None
    organization_id: int | None
    is_org_admin: bool


async def check_scope(session: AsyncSession, scope: Scope, explicit: set[str]) -> Scope:
    """The scope a role needs, every id checked to exist; fields a role does not use are cleared unless given.

    A child director needs a community (its street follows from it), a supervisor a street, organization staff an
    organization; district roles none. ``explicit`` names the fields the caller set: a field set for a role that
    does not use it is an error, one merely left over from the old role is cleared.
    """
    errors: list[dict[str, Any]] = []

    def refuse(field: str, message: str) -> None:
        errors.append({"field": field, "message": message})

    if scope.role not in ROLES:
        raise Invalid.field("role", f"未知角色 '{scope.role}' (unknown role; one of {', '.join(ROLES)})")
    used = {
        "child_director": {"community_id", "street_id"},
        "child_supervisor": {"street_id"},
        "org_staff": {"organization_id"},
    }.get(scope.role, set())
    for field in SCOPE_FIELDS:
        if field in used or getattr(scope, field) is None:
            continue
        if field in explicit:
            refuse(field, f"角色 {scope.role} 不使用 {field} (not part of this role's scope)")
        setattr(scope, field, None)
    if scope.is_org_admin and scope.role != "org_staff":
        if "is_org_admin" in explicit:
            refuse("is_org_admin", "只有社会组织工作人员可以是机构管理员 (only org_staff may be an organization admin)")
        scope.is_org_admin = False
    if scope.role == "child_director":
        if scope.community_id is None:
            refuse("community_id", "儿童主任须指定社区 (a child director needs community_id)")
        else:
            community = await session.get(Community, scope.community_id)
            if community is None:
                refuse("community_id", f"社区 {scope.community_id} 不存在 (unknown community)")
            elif "street_id" in explicit and scope.street_id not in (None, community.street_id):
                refuse("street_id", "社区不属于该街道 (the community is in another street)")
            else:
                scope.street_id = community.street_id
    elif scope.role == "child_supervisor":
        if scope.street_id is None:
            refuse("street_id", "儿童督导员须指定街道 (a child supervisor needs street_id)")
        elif await session.get(Street, scope.street_id) is None:
            refuse("street_id", f"街道 {scope.street_id} 不存在 (unknown street)")
    elif scope.role == "org_staff":
        if scope.organization_id is None:
            refuse("organization_id", "社会组织工作人员须指定机构 (org_staff needs organization_id)")
        elif await session.get(Organization, scope.organization_id) is None:
            refuse("organization_id", f"机构 {scope.organization_id} 不存在 (unknown organization)")
    if errors:
        raise Invalid("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)
    return scope


# ---------------------------------------------------------------- reading


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
    actor = await actor_of(session, principal, write=False)
    stmt = select(User)
    if actor.kind == "org_admin":
        stmt = stmt.where(User.role == "org_staff", User.organization_id == actor.organization_id)
    text = (q or "").strip()
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            or_(
                User.username.ilike(pattern, escape="\\"),
                User.display_name.ilike(pattern, escape="\\"),
                User.phone.ilike(pattern, escape="\\"),
            )
        )
    if role:
        stmt = stmt.where(User.role == role)
    if active is not None:
        stmt = stmt.where(User.is_active.is_(active))
    if organization_id is not None:
        stmt = stmt.where(User.organization_id == organization_id)
    rows, total = await fetch_page(session, stmt, User.id, limit=limit, offset=offset)
    return await users_out(session, actor, rows), total


async def get_user(session: AsyncSession, principal: Principal, user_id: int) -> UserOut:
    actor = await actor_of(session, principal, write=False)
    user = await load_user(session, actor, user_id)
    return await one_out(session, actor, user)


async def find_user_id(session: AsyncSession, username: str) -> int:
    """The id of the account called ``username`` (the command line names accounts by username)."""
    found = await session.scalar(select(User.id).where(User.username == username))
    if found is None:
        raise NotFound(f"账号 {username} 不存在 (account not found)")
    return int(found)


# ---------------------------------------------------------------- changing


async def create_user(session: AsyncSession, principal: Principal, data: UserIn) -> CreatedUserOut:
    """A new account that must choose its own password: it gets an activation code (shown once)."""
    actor = await actor_of(session, principal, write=True)
    check_text(display_name=data.display_name)
    explicit = {f for f in (*SCOPE_FIELDS, "is_org_admin") if getattr(data, f) not in (None, False)}
    organization_id = data.organization_id
    if actor.kind == "org_admin":
        if data.role != "org_staff":
            raise Forbidden("机构管理员只能添加本机构工作人员 (organization admins add org_staff only)")
        if organization_id not in (None, actor.organization_id):
            raise Forbidden("只能为本机构添加工作人员 (only for your own organization)")
        if data.is_org_admin:
            raise Forbidden("机构管理员账号由区民政开设 (only the district creates organization admins)")
        organization_id = actor.organization_id
        explicit.add("organization_id")
    scope = await check_scope(
        session,
        Scope(data.role, data.street_id, data.community_id, organization_id, data.is_org_admin),
        explicit,
    )
    username = data.username.strip()
    if await session.scalar(select(User.id).where(func.lower(User.username) == username.lower())) is not None:
        raise Conflict(f"用户名 {username} 已被使用 (username taken)", field="username")
    user = User(
        username=username,
        display_name=data.display_name.strip(),
        phone=data.phone,
        password_hash=unusable_password(),
        role=scope.role,
        street_id=scope.street_id,
        community_id=scope.community_id,
        organization_id=scope.organization_id,
        is_org_admin=scope.is_org_admin,
        is_active=True,
        created_by=principal.account_id,
    )
    code, expires_at = codes.issue_code(user, "activate")
    session.add(user)
    await session.flush()
    await audit.record(
        session,
        principal,
        "user.create",
        "user",
        user.id,
        ["username", "display_name", "phone", "role", *SCOPE_FIELDS, "is_org_admin"],
        {"username": user.username, "role": user.role, **scope_detail(user)},
    )
    return CreatedUserOut(
        user=await one_out(session, actor, user), activation=code_out(user, "activate", code, expires_at)
    )


def scope_detail(user: User) -> dict[str, Any]:
    return {
        "street_id": user.street_id,
        "community_id": user.community_id,
        "organization_id": user.organization_id,
        "is_org_admin": user.is_org_admin,
    }


async def update_user(session: AsyncSession, principal: Principal, user_id: int, data: UserPatch) -> UserOut:
    """A role or scope change revokes the account's tokens and console sessions."""
    actor = await actor_of(session, principal, write=True)
    user = await load_user(session, actor, user_id, lock=True)
    check_org_admin_target(actor, user)
    changes = {f: getattr(data, f) for f in data.__struct_fields__ if getattr(data, f) is not msgspec.UNSET}
    privileged = {"role", *SCOPE_FIELDS, "is_org_admin"}
    if actor.kind == "org_admin" and privileged & changes.keys():
        raise Forbidden("机构管理员只能修改姓名和手机号 (organization admins edit names and phone numbers only)")
    if user.id == principal.user_id and privileged & changes.keys():
        raise Forbidden("不能修改自己的角色或范围 (you cannot change your own role or scope)")
    before = {"role": user.role, **scope_detail(user)}
    if privileged & changes.keys():
        scope = await check_scope(
            session,
            Scope(
                changes.get("role", user.role),
                changes.get("street_id", user.street_id),
                changes.get("community_id", user.community_id),
                changes.get("organization_id", user.organization_id),
                changes.get("is_org_admin", user.is_org_admin),
            ),
            {f for f in privileged if f in changes and changes[f] not in (None, False)},
        )
        user.role = scope.role
        user.street_id = scope.street_id
        user.community_id = scope.community_id
        user.organization_id = scope.organization_id
        user.is_org_admin = scope.is_org_admin
    if "display_name" in changes:
        check_text(display_name=changes["display_name"])
        user.display_name = changes["display_name"].strip()
    if "phone" in changes:
        user.phone = changes["phone"]
    after = {"role": user.role, **scope_detail(user)}
    changed = sorted(f for f in changes if f not in before or before[f] != after[f])
    revoked = before != after
    if revoked:
        revoke_sessions(user)
    detail: dict[str, Any] = {"revoked": revoked}
    if revoked:
        detail.update(
            before={k: v for k, v in before.items() if v != after[k]},
            after={k: v for k, v in after.items() if v != before[k]},
        )
    await audit.record(session, principal, "user.update", "user", user.id, changed, detail)
    return await one_out(session, actor, user)


async def disable_user(session: AsyncSession, principal: Principal, user_id: int) -> UserOut:
    actor = await actor_of(session, principal, write=True)
    if user_id == principal.user_id:
        raise Conflict("不能停用自己的账号 (you cannot disable your own account)")
    user = await load_user(session, actor, user_id, lock=True)
    check_org_admin_target(actor, user)
    if user.is_active:
        user.is_active = False
        user.disabled_at = utcnow()
        revoke_sessions(user)
        await audit.record(
            session, principal, "user.disable", "user", user.id, ["is_active"], {"username": user.username}
        )
    return await one_out(session, actor, user)


async def enable_user(session: AsyncSession, principal: Principal, user_id: int) -> UserOut:
    actor = await actor_of(session, principal, write=True)
    user = await load_user(session, actor, user_id, lock=True)
    check_org_admin_target(actor, user)
    if not user.is_active:
        user.is_active = True
        user.disabled_at = None
        await audit.record(
            session, principal, "user.enable", "user", user.id, ["is_active"], {"username": user.username}
        )
    return await one_out(session, actor, user)


async def reset_password(session: AsyncSession, principal: Principal, user_id: int) -> OneTimeCodeOut:
    """A one-time reset code that expires; the old password stops working and the account's sessions end."""
    actor = await actor_of(session, principal, write=True)
    if user_id == principal.user_id:
        raise Conflict("请在“修改密码”中修改自己的密码 (change your own password instead)")
    user = await load_user(session, actor, user_id, lock=True)
    check_org_admin_target(actor, user)
    if not user.is_active:
        raise Conflict("账号已停用，请先启用 (the account is disabled; enable it first)")
    code, expires_at = codes.issue_code(user, "reset")
    user.password_hash = unusable_password()
    revoke_sessions(user)
    await audit.record(
        session,
        principal,
        "user.reset_password",
        "user",
        user.id,
        ["password"],
        {"username": user.username, "expires_at": expires_at.isoformat()},
    )
    return code_out(user, "reset", code, expires_at)


async def login_failures(
    session: AsyncSession, principal: Principal, user_id: int, *, limit: int = 20
) -> list[LoginFailureOut]:
    actor = await actor_of(session, principal, write=False)
    user = await load_user(session, actor, user_id)
    rows = await session.scalars(
        select(LoginFailure)
        .where(LoginFailure.username == user.username)
        .order_by(LoginFailure.at.desc(), LoginFailure.id.desc())
        .limit(limit)
    )
    return [LoginFailureOut(username=f.username, address=f.address, reason=f.reason, at=f.at) for f in rows.all()]


# ---------------------------------------------------------------- handover

HANDOVER_ROLES: Final = {"child_director": "community_id", "child_supervisor": "street_id"}


def handover_out(h: Handover) -> HandoverOut:
    return HandoverOut(
        id=h.id,
        from_user_id=h.from_user_id,
        to_user_id=h.to_user_id,
        role=h.role,
        street_id=h.street_id,
        community_id=h.community_id,
        moved=dict(h.moved or {}),
        performed_by=h.performed_by,
        created_at=h.created_at,
    )


async def handover(session: AsyncSession, principal: Principal, data: HandoverIn) -> HandoverOut:
    """Move a community's (director) or street's (supervisor) caseload to another account in one action.

    The new account takes the old one's community (or street) unless it already has the same one; the old one is
    disabled and its sessions end. Children, needs, visits and referrals follow the community or street, not the
    person, so they are the new account's at once; what a feature keeps per user id (e.g. unread notifications)
    moves through the :data:`HANDOVER_TOPIC` event, whose handlers add their counts to the handover's ``moved``.
    """
    principal.require("district_admin")
    if data.from_user_id == data.to_user_id:
        raise Invalid.field("to_user_id", "交接双方不能是同一账号 (hand over to another account)")
    # Lock both rows in id order so two handovers touching the same accounts cannot deadlock.
    locked = {
        u.id: u
        for u in (
            await session.scalars(
                select(User)
                .where(User.id.in_([data.from_user_id, data.to_user_id]))
                .order_by(User.id)
                .with_for_update()
            )
        ).all()
    }
    old, new = locked.get(data.from_user_id), locked.get(data.to_user_id)
    if old is None:
        raise NotFound(f"账号 {data.from_user_id} 不存在 (account not found)")
    if new is None:
        raise NotFound(f"账号 {data.to_user_id} 不存在 (account not found)")
    field = HANDOVER_ROLES.get(old.role)
    if field is None:
        raise Invalid.field(
            "from_user_id", "只有儿童主任或儿童督导员可以交接 (only directors and supervisors hand over)"
        )
    if new.role != old.role:
        raise Invalid.field(
            "to_user_id", f"接手账号须同为{ROLES[old.role]} (the new account must also be a {old.role})"
        )
    if not new.is_active:
        raise Conflict("接手账号已停用 (the new account is disabled)")
    value = getattr(old, field)
    if value is None:
        raise Conflict("原账号没有可交接的范围 (the old account has no community or street to hand over)")
    current = getattr(new, field)
    if current is not None and current != value:
        where = "社区" if field == "community_id" else "街道"
        raise Conflict(
            f"接手账号已负责另一个{where}（{current}），不能接手 {value} (the new account already has another "
            f"{field}: {current}; clear or change it first)",
            field=field,
            current=current,
            wanted=value,
        )
    moved: dict[str, int] = {}
    if current is None:
        setattr(new, field, value)
        if field == "community_id":
            new.street_id = old.street_id
        revoke_sessions(new)
        moved["community" if field == "community_id" else "street"] = 1
    if old.is_active:
        old.is_active = False
        old.disabled_at = utcnow()
    revoke_sessions(old)
    row = Handover(
        from_user_id=old.id,
        to_user_id=new.id,
        role=old.role,
        street_id=old.street_id,
        community_id=old.community_id if field == "community_id" else None,
        moved=moved,
        performed_by=principal.account_id,
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    outbox.emit(
        session,
        HANDOVER_TOPIC,
        {"handover_id": row.id, "from_user_id": old.id, "to_user_id": new.id, "role": old.role},
    )
    detail = {
        "from_user_id": old.id,
        "from_username": old.username,
        "to_user_id": new.id,
        "to_username": new.username,
        "role": old.role,
        field: value,
    }
    await audit.record(session, principal, "handover", "handover", row.id, [field], detail)
    await audit.record(session, principal, "user.disable", "user", old.id, ["is_active"], {"handover_id": row.id})
    if current is None:
        await audit.record(
            session, principal, "user.update", "user", new.id, [field], {"handover_id": row.id, field: value}
        )
    return handover_out(row)
