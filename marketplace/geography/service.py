from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.errors import NotFound
from marketplace.geography.models import Community, Street


async def list_streets(session: AsyncSession) -> list[Street]:
    return list((await session.scalars(select(Street).order_by(Street.id))).all())


async def list_communities(session: AsyncSession, street_id: int | None = None) -> list[Community]:
    stmt = select(Community).order_by(Community.id)
    if street_id is not None:
        stmt = stmt.where(Community.street_id == street_id)
    return list((await session.scalars(stmt)).all())


async def get_street(session: AsyncSession, street_id: int) -> Street:
    street = await session.get(Street, street_id)
    if street is None:
        raise NotFound(f"街道 {street_id} 不存在 (street not found)")
    return street


async def get_community(session: AsyncSession, community_id: int) -> Community:
    community = await session.get(Community, community_id)
    if community is None:
        raise NotFound(f"社区 {community_id} 不存在 (community not found)")
    return community


async def existing_street_ids(session: AsyncSession, ids: list[int]) -> set[int]:
    if not ids:
        return set()
    rows = await session.scalars(select(Street.id).where(Street.id.in_(ids)))
    return set(rows.all())
