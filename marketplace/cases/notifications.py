"""Notifications to staff: written by outbox handlers and jobs, read by their recipient."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.auth.models import User
from marketplace.auth.principal import Principal
from marketplace.cases.models import Notification
from marketplace.db import utcnow
from marketplace.errors import NotFound


async def community_directors(session: AsyncSession, community_id: int) -> list[int]:
    rows = await session.scalars(
        select(User.id)
        .where(User.role == "child_director", User.community_id == community_id, User.is_active.is_(True))
        .order_by(User.id)
    )
    return list(rows.all())


async def street_supervisors(session: AsyncSession, street_id: int) -> list[int]:
    rows = await session.scalars(
        select(User.id)
        .where(User.role == "child_supervisor", User.street_id == street_id, User.is_active.is_(True))
        .order_by(User.id)
    )
    return list(rows.all())


async def district_admins(session: AsyncSession) -> list[int]:
    rows = await session.scalars(
        select(User.id).where(User.role == "district_admin", User.is_active.is_(True)).order_by(User.id)
    )
    return list(rows.all())


async def organization_staff(session: AsyncSession, organization_id: int) -> list[int]:
    rows = await session.scalars(
        select(User.id)
        .where(User.role == "org_staff", User.organization_id == organization_id, User.is_active.is_(True))
        .order_by(User.id)
    )
    return list(rows.all())


async def notify(
    session: AsyncSession,
    recipients: Iterable[int],
    *,
    key: str,
    kind: str,
    title: str,
    body: str,
    entity: str,
    entity_id: int,
    data: dict[str, Any] | None = None,
) -> list[int]:
    """Write one notification per recipient unless it was already written under the same key."""
    wanted = {f"{key}:{uid}": uid for uid in dict.fromkeys(recipients)}
    if not wanted:
        return []
    existing = set((await session.scalars(select(Notification.key).where(Notification.key.in_(wanted)))).all())
    added = []
    for k, uid in wanted.items():
        if k in existing:
            continue
        session.add(
            Notification(
                key=k,
                recipient_id=uid,
                kind=kind,
                title=title,
                body=body,
                entity=entity,
                entity_id=entity_id,
                data=data or {},
            )
        )
        added.append(uid)
    await session.flush()
    return added


async def list_for(
    session: AsyncSession, principal: Principal, *, unread: bool | None, limit: int, offset: int
) -> tuple[list[Notification], int, int]:
    stmt = select(Notification).where(Notification.recipient_id == principal.user_id)
    if unread:
        stmt = stmt.where(Notification.read_at.is_(None))
    total = await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    unread_total = await unread_count(session, principal.user_id)
    rows = await session.scalars(stmt.order_by(Notification.id.desc()).limit(limit).offset(offset))
    return list(rows.all()), total, unread_total


async def unread_count(session: AsyncSession, user_id: int) -> int:
    """A person's unread notifications: one count over the (recipient, read_at) index (the console's navigation
    asks on every page)."""
    found = await session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.recipient_id == user_id, Notification.read_at.is_(None))
    )
    return int(found or 0)


async def mark_read(session: AsyncSession, principal: Principal, notification_id: int) -> Notification:
    note = await session.get(Notification, notification_id)
    if note is None or note.recipient_id != principal.user_id:
        raise NotFound(f"通知 {notification_id} 不存在 (notification not found)")
    if note.read_at is None:
        await session.execute(update(Notification).where(Notification.id == notification_id).values(read_at=utcnow()))
        await session.refresh(note)
    return note
