"""How far search is behind the database, for operators (``/health``, ``/metrics``).

Two gaps add up: changes the database has flagged but no indexing pass has sent to the engine yet (the
``index_state`` rows still dirty: the Celery worker is down, slow, or the engine refused), and, with the embedded
engine, changes in the index file that this serving process has not applied to its memory yet (normally none:
every search applies them first; a large catch-up runs in a background thread). With Meilisearch every process
asks the same server: its enqueued or processing tasks are what searches do not show yet.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from sqlalchemy import Connection, func, select

from marketplace import clock
from marketplace.db import Database
from marketplace.indexing.models import IndexState
from search import SearchBackend


def _pending(conn: Connection) -> tuple[dict[str, int], Any]:
    rows = conn.execute(
        select(IndexState.index_name, func.count(), func.min(IndexState.changed_at))
        .where(IndexState.dirty.is_(True))
        .group_by(IndexState.index_name)
    ).all()
    counts = {str(name): int(n) for name, n, _ in rows}
    oldest = min((first for _, _, first in rows if first is not None), default=None)
    return counts, oldest


async def index_lag(db: Database, backend: SearchBackend) -> dict[str, Any]:
    """The search index's lag behind the database, as seen from this process.

    * ``pending_documents``: documents changed in the database and not yet indexed (dirty ``index_state`` rows);
      ``pending_by_index``: the same per index (``services``, ``organizations``; absent when zero);
    * ``oldest_pending_seconds``: how long the oldest of them has waited (``None`` when none is pending);
    * ``engine``: ``embedded``, ``fts5`` or ``meilisearch``;
    * embedded: ``generation`` (the index file's change this process's memory reflects), ``latest`` (the file's
      last change), ``behind`` (changes written to the file, not yet applied here), ``catching_up`` (a background
      catch-up is running), ``loaded`` (memory loaded: a serving process loads it at start, a worker never);
    * Meilisearch: ``pending_tasks`` (enqueued or processing indexing tasks), ``behind`` 0;
    * ``error`` when the engine could not tell (the database's figures are still given).

    A database that does not answer raises (the caller reports the database as unavailable).
    """
    counts, oldest = await db.read(_pending)
    if backend.in_process:
        engine = backend.freshness()
    else:
        engine = await anyio.to_thread.run_sync(backend.freshness)
    age = None if oldest is None else round(max(0.0, (clock.now() - oldest).total_seconds()), 3)
    return {
        "pending_documents": sum(counts.values()),
        "pending_by_index": counts,
        "oldest_pending_seconds": age,
        **engine,
    }
