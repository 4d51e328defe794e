"""The search backend of this process, and how the database's changes reach it.

Changes mark rows dirty (``service.mark_dirty``, written with the change); :func:`index_dirty` sends what is
dirty to the backend and clears the flags of rows not changed meanwhile; :func:`reindex_all` rebuilds both
indexes (``marketplace reindex``, after the demo load).

A network backend (Meilisearch) is never asked anything while a process starts: its indexes are set up by
``marketplace search setup`` (and the worker's start, in the background), so the app starts with the server slow
or away and says so in ``/health``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Protocol, runtime_checkable

import anyio.to_thread
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.db import Database
from marketplace.indexing.documents import BUILDERS, LABELS
from marketplace.indexing.models import IndexState
from marketplace.indexing.service import claim_dirty, mark_clean
from marketplace.resources.models import Organization, Service
from marketplace.settings import Settings
from search import Document, SearchBackend, make_backend

log = logging.getLogger("marketplace.search")


@cache
def _backend(meili_url: str | None, meili_key: str | None, path: str) -> SearchBackend:
    if not meili_url:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    backend = make_backend(meili_url, meili_key, path, LABELS)
    if backend.in_process:  # a local file: cheap, and the engine needs it to answer at all
        backend.ensure_indexes()
    return backend


def backend_for(settings: Settings) -> SearchBackend:
    """The process-wide backend for these settings (Meilisearch or the embedded engine); the embedded engine's
    indexes ensured, Meilisearch's not asked for (``marketplace search setup``)."""
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


class Rebuild(Protocol):
    def index(self, docs: Sequence[Document]) -> None: ...
    def finish(self) -> None: ...
    def abort(self) -> None: ...


@runtime_checkable
class Rebuilding(Protocol):
    """A backend that rebuilds an index beside the live one and swaps it in (Meilisearch)."""

    def begin_rebuild(self, index_name: str) -> Rebuild: ...


async def _versions(db: Database, index_name: str) -> tuple[dict[int, int], dict[int, int]]:
    """Every document's change counter, and those of the documents marked dirty."""
    async with db.session(write=False) as session:
        rows = await session.execute(
            select(IndexState.doc_id, IndexState.version, IndexState.dirty).where(IndexState.index_name == index_name)
        )
        versions: dict[int, int] = {}
        dirty: dict[int, int] = {}
        for doc_id, version, is_dirty in rows.all():
            versions[int(doc_id)] = int(version)
            if is_dirty:
                dirty[int(doc_id)] = int(version)
        return versions, dirty


async def _rebuild_swapped(
    db: Database,
    backend: SearchBackend,
    rebuilder: Rebuilding,
    index_name: str,
    model: type[Service] | type[Organization],
    batch: int,
    progress: Callable[[str, int, int], None] | None,
) -> list[int]:
    """Fill a new index beside the live one and swap it in; then bring it up to the changes made meanwhile (the
    live index received them, the new one may hold an older copy): every document whose version moved or that
    appeared since the start is written again, those gone are deleted. The dirty flags are cleared only of the
    versions the new index holds (a change arriving meanwhile stays dirty for its own pass)."""
    before, _ = await _versions(db, index_name)
    async with db.session(write=False) as session:
        ids = list((await session.scalars(select(model.id).order_by(model.id))).all())
    rebuild = await anyio.to_thread.run_sync(rebuilder.begin_rebuild, index_name)
    try:
        done = 0
        for start in range(0, len(ids), batch):
            chunk = ids[start : start + batch]
            async with db.session(write=False) as session:
                docs, _ = await BUILDERS[index_name](session, chunk)
            await anyio.to_thread.run_sync(rebuild.index, docs)
            done += len(chunk)
            if progress:
                progress(index_name, done, len(ids))
    except BaseException:
        await anyio.to_thread.run_sync(rebuild.abort)
        raise
    await anyio.to_thread.run_sync(rebuild.finish)
    after, dirty = await _versions(db, index_name)
    listed = set(ids)
    moved = sorted(i for i, v in after.items() if before.get(i) != v or i not in listed)
    for start in range(0, len(moved), batch):
        async with db.session(write=False) as session:
            docs, gone = await BUILDERS[index_name](session, moved[start : start + batch])
        if docs:
            await anyio.to_thread.run_sync(backend.index, index_name, docs)
        if gone:
            await anyio.to_thread.run_sync(backend.delete, index_name, gone)
    held = list(dirty.items())
    for start in range(0, len(held), batch):
        async with db.session() as session:
            await mark_clean(session, index_name, dict(held[start : start + batch]))
    return ids


async def reindex_all(
    db: Database, backend: SearchBackend, *, batch: int = 1000, progress: Callable[[str, int, int], None] | None = None
) -> dict[str, int]:
    """Rebuild both indexes from the database (``marketplace reindex``, after the demo load).

    Every document is written again (replacing its copy), then the documents the database no longer has are
    deleted: the index is never emptied first, so the serving processes, which apply each batch as it is written,
    answer from a complete index throughout (each document in its old or its new version).

    A backend that can (Meilisearch: ``begin_rebuild``) builds a new index beside the live one and swaps it in
    instead, so documents no longer wanted and old settings go with the old index at once."""
    counts: dict[str, int] = {}
    for index_name, model in (("services", Service), ("organizations", Organization)):
        if isinstance(backend, Rebuilding):
            ids = await _rebuild_swapped(db, backend, backend, index_name, model, batch, progress)
            counts[index_name] = len(ids)
            continue
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
        await _mark_all_clean(db, index_name)
        counts[index_name] = len(ids)
    return counts


async def _mark_all_clean(db: Database, index_name: str) -> None:
    async with db.session() as session:
        await session.execute(update(IndexState).where(IndexState.index_name == index_name).values(dirty=False))


async def pending_count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).where(IndexState.dirty.is_(True))) or 0)
