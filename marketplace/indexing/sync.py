"""The search backend of this process, and how the database's changes reach it.

Changes mark rows dirty (``service.mark_dirty``, written with the change); :func:`index_dirty` sends what is
dirty to the backend and clears the flags of rows not changed meanwhile; :func:`reindex_all` rebuilds both
indexes (``marketplace reindex``, after the demo load).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import cache
from pathlib import Path

import anyio.to_thread
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.db import Database
from marketplace.indexing.documents import BUILDERS, LABELS
from marketplace.indexing.models import IndexState
from marketplace.indexing.service import claim_dirty, mark_clean
from marketplace.resources.models import Organization, Service
from marketplace.settings import Settings
from search import SearchBackend, make_backend

log = logging.getLogger("marketplace.search")


@cache
def _backend(meili_url: str | None, meili_key: str | None, path: str) -> SearchBackend:
    if not meili_url:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    backend = make_backend(meili_url, meili_key, path, LABELS)
    backend.ensure_indexes()
    return backend


def backend_for(settings: Settings) -> SearchBackend:
    """The process-wide backend for these settings (Meilisearch or the embedded engine), indexes ensured."""
    return _backend(settings.meili_url, settings.meili_key, settings.search_path)


async def index_dirty(session: AsyncSession, backend: SearchBackend, index_name: str, batch: int = 500) -> int:
    """Index what is marked dirty and not held by another transaction, a batch at a time; rows changed meanwhile
    stay dirty for the next pass."""
    versions = await claim_dirty(session, index_name, limit=batch)
    if not versions:
        return 0
    ids = list(versions)
    docs, gone = await BUILDERS[index_name](session, ids)
    if docs:
        await anyio.to_thread.run_sync(backend.index, index_name, docs)
    if gone:
        await anyio.to_thread.run_sync(backend.delete, index_name, gone)
    await mark_clean(session, index_name, versions)
    return len(ids)


async def reindex_all(
    db: Database, backend: SearchBackend, *, batch: int = 1000, progress: Callable[[str, int, int], None] | None = None
) -> dict[str, int]:
    """Rebuild both indexes from the database (``marketplace reindex``, after the demo load).

    Every document is written again (replacing its copy), then the documents the database no longer has are
    deleted: the index is never emptied first, so the serving processes, which apply each batch as it is written,
    answer from a complete index throughout (each document in its old or its new version)."""
    counts: dict[str, int] = {}
    for index_name, model in (("services", Service), ("organizations", Organization)):
        async with db.session(write=False) as session:
            ids = list((await session.scalars(select(model.id).order_by(model.id))).all())
        done = 0
        for start in range(0, len(ids), batch):
            chunk = ids[start : start + batch]
            async with db.session(write=False) as session:
                docs, _ = await BUILDERS[index_name](session, chunk)
            await anyio.to_thread.run_sync(backend.index, index_name, docs)
            done += len(chunk)
            if progress:
                progress(index_name, done, len(ids))
        # deleted from the database since they were indexed (or by a run on another database): drop them
        # (a document created meanwhile is not lost: its own change marks it dirty and a pass indexes it)
        current = set(ids)
        indexed = await anyio.to_thread.run_sync(backend.document_ids, index_name)
        gone = [i for i in indexed if i not in current]
        async with db.session(write=False) as session:
            gone = [i for i in gone if await session.get(model, i) is None]
        for start in range(0, len(gone), batch):
            await anyio.to_thread.run_sync(backend.delete, index_name, gone[start : start + batch])
        async with db.session() as session:
            await session.execute(update(IndexState).where(IndexState.index_name == index_name).values(dirty=False))
        counts[index_name] = len(ids)
    return counts


async def pending_count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).where(IndexState.dirty.is_(True))) or 0)
