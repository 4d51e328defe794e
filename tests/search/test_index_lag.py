"""``marketplace.indexing.freshness.index_lag``: what /health and /metrics report about search's lag."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from marketplace.db import Database
from marketplace.indexing.documents import LABELS
from marketplace.indexing.freshness import index_lag
from marketplace.indexing.service import mark_dirty
from marketplace.indexing.sync import index_dirty
from search.embedded import EmbeddedBackend
from search.fts5 import Fts5Backend
from search.port import SearchQuery
from tests.search.test_contract import svc

T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)


async def test_pending_rows_and_the_process_generation(
    db: Database, tmp_path: Path, frozen_clock: Callable[[dt.datetime], None]
) -> None:
    path = str(tmp_path / "search.sqlite3")
    here = EmbeddedBackend(path, LABELS)
    worker = EmbeddedBackend(path, LABELS)
    lag = await index_lag(db, here)
    assert lag == {
        "pending_documents": 0,
        "pending_by_index": {},
        "oldest_pending_seconds": None,
        "engine": "embedded",
        "generation": None,
        "latest": 0,
        "behind": 0,
        "catching_up": False,
        "loaded": False,
    }

    frozen_clock(T0)
    async with db.session() as session:
        await mark_dirty(session, "services", 101)
        await mark_dirty(session, "organizations", 7)
    frozen_clock(T0 + dt.timedelta(seconds=30))
    async with db.session() as session:
        await mark_dirty(session, "services", 102)
    assert here.count("services") == 0  # a serving process: its memory loaded (at generation 0)
    worker.index("services", [svc(1), svc(2)])
    worker.delete("services", [2])
    frozen_clock(T0 + dt.timedelta(seconds=42.5))
    lag = await index_lag(db, here)
    assert lag["pending_documents"] == 3
    assert lag["pending_by_index"] == {"services": 2, "organizations": 1}
    assert lag["oldest_pending_seconds"] == 42.5
    assert (lag["generation"], lag["latest"], lag["behind"]) == (0, 3, 3)  # not searched since the worker wrote

    assert here.search("services", SearchQuery()).ids == [1]
    async with db.session() as session:  # the services are gone from the database: the pass deletes them
        await index_dirty(session, worker, "services")
        await index_dirty(session, worker, "organizations")
    lag = await index_lag(db, here)
    assert (lag["pending_documents"], lag["oldest_pending_seconds"]) == (0, None)
    assert (lag["generation"], lag["behind"]) == (3, lag["latest"] - 3)
    here.wait_fresh()
    assert (await index_lag(db, here))["behind"] == 0


async def test_a_backend_that_reads_the_file_is_never_behind(db: Database, tmp_path: Path) -> None:
    lag = await index_lag(db, Fts5Backend(str(tmp_path / "fts.sqlite3"), LABELS))
    assert (lag["engine"], lag["behind"], lag["pending_documents"]) == ("fts5", 0, 0)
