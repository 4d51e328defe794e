"""Bookkeeping of what the search index still has to pick up.

Safe under concurrency: marking is one ``INSERT … ON CONFLICT DO UPDATE`` (two first changes of the same document
cannot both insert), and a pass claims the dirty rows it indexes with ``FOR UPDATE SKIP LOCKED``: a row another
transaction holds is being marked or indexed by it right now, and that transaction indexes it after its change, so
this pass leaves it alone instead of waiting (no lock cycle between two handlers) or indexing an older copy.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.db import utcnow
from marketplace.indexing.models import IndexState


async def mark_dirty(session: AsyncSession, index_name: str, doc_id: int) -> None:
    """Flag the document (a new version); the row stays locked by this transaction until it commits."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    now = utcnow()
    stmt = insert(IndexState).values(index_name=index_name, doc_id=doc_id, dirty=True, version=1, changed_at=now)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[IndexState.index_name, IndexState.doc_id],
            set_={"dirty": True, "version": IndexState.version + 1, "changed_at": now},
        )
    )


async def claim_dirty(session: AsyncSession, index_name: str, limit: int = 1000) -> dict[int, int]:
    """The dirty documents this transaction may index now, with their versions, locked until it commits."""
    rows = await session.execute(
        select(IndexState.doc_id, IndexState.version)
        .where(IndexState.index_name == index_name, IndexState.dirty.is_(True))
        .order_by(IndexState.doc_id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return {int(doc_id): int(version) for doc_id, version in rows.all()}


async def dirty_ids(session: AsyncSession, index_name: str, limit: int = 1000) -> list[int]:
    rows = await session.scalars(
        select(IndexState.doc_id)
        .where(IndexState.index_name == index_name, IndexState.dirty.is_(True))
        .order_by(IndexState.doc_id)
        .limit(limit)
    )
    return list(rows.all())


async def mark_clean(session: AsyncSession, index_name: str, versions: dict[int, int]) -> None:
    """Clear the flag only where no newer change arrived while we were indexing (checked by the UPDATE itself)."""
    now = utcnow()
    for doc_id, version in versions.items():
        await session.execute(
            update(IndexState)
            .where(IndexState.index_name == index_name, IndexState.doc_id == doc_id, IndexState.version == version)
            .values(dirty=False, indexed_at=now)
            .execution_options(synchronize_session=False)
        )
