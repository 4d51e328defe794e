"""``marketplace reindex`` (``reindex_all``) while other processes serve searches from the same index file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from marketplace.db import Database
from marketplace.indexing.documents import LABELS
from marketplace.indexing.sync import reindex_all
from marketplace.resources.models import Organization, Service
from search.embedded import EmbeddedBackend
from search.port import SearchQuery
from tests.search.test_contract import svc
from tests.support.world import World


async def test_reindex_never_empties_what_other_processes_search(db: Database, world: World, tmp_path: Path) -> None:
    path = str(tmp_path / "search.sqlite3")
    command = EmbeddedBackend(path, LABELS)  # `marketplace reindex`: writes only
    serving = EmbeddedBackend(path, LABELS)  # a serving process
    await reindex_all(db, command)
    async with db.session(write=False) as session:
        services = int(await session.scalar(select(func.count()).select_from(Service)) or 0)
        organizations = int(await session.scalar(select(func.count()).select_from(Organization)) or 0)
    assert services >= 3
    command.index("services", [svc(990_001, title="星河守望")])  # in the index, no longer in the database
    assert serving.count("services") == services + 1
    assert serving.search("services", SearchQuery(q="星河守望")).ids == [990_001]

    seen: list[int] = []
    write = command.index

    def index_and_look(index_name: str, docs: Any) -> None:
        write(index_name, docs)
        seen.append(serving.search("services", SearchQuery(limit=0)).total)  # what a search there counts now

    command.index = index_and_look  # type: ignore[method-assign]
    counts = await reindex_all(db, command, batch=1)
    assert counts == {"services": services, "organizations": organizations}
    assert len(seen) == services + organizations
    # while the services are rewritten, a search there counts every one of them, never fewer (none is missing
    # meanwhile: each replaced in place); the one gone from the database is deleted after them
    assert seen[:services] == [services + 1] * services
    assert seen[services:] == [services] * organizations
    assert serving.count("services") == services
    ids = serving.document_ids("services")
    assert 990_001 not in ids and set(world.services) <= set(ids) and len(ids) == services
    assert serving.search("services", SearchQuery(q="星河守望")).ids == []
    assert serving.freshness()["behind"] == 0
