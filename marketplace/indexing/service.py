"""Bookkeeping of what the search index still has to pick up."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.db import utcnow
from marketplace.indexing.models import IndexState


async def mark_dirty(session: AsyncSession, index_name: str, doc_id: int) -> IndexState:
    state = await session.get(IndexState, (index_name, doc_id), with_for_update=True)
    if state is None:
        state = IndexState(index_name=index_name, doc_id=doc_id, dirty=True, version=1, changed_at=utcnow())
        session.add(state)
    else:
        state.dirty = True
        state.version += 1
        state.changed_at = utcnow()
    await session.flush()
    return state


async def dirty_ids(session: AsyncSession, index_name: str, limit: int = 1000) -> list[int]:
    rows = await session.scalars(
        select(IndexState.doc_id)
        .where(IndexState.index_name == index_name, IndexState.dirty.is_(True))
        .order_by(IndexState.doc_id)
        .limit(limit)
    )
    return list(rows.all())


async def mark_clean(session: AsyncSession, index_name: str, versions: dict[int, int]) -> None:
    """Clear the flag only where no newer change arrived while we were indexing."""
    if not versions:
        return
    rows = await session.scalars(
        select(IndexState).where(IndexState.index_name == index_name, IndexState.doc_id.in_(list(versions)))
    )
    now = utcnow()
    for state in rows.all():
        if state.version == versions[state.doc_id]:
            state.dirty = False
            state.indexed_at = now
