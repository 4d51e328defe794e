"""Search as the app, the CLI and the demo loader use it: the process's backend on the app's state, a full
reindex after the demo. The machinery (backend, documents, dirty flags) is ``marketplace.indexing``'s."""

from __future__ import annotations

from litestar.datastructures import State

from marketplace.db import Database
from marketplace.indexing.sync import backend_for, reindex_all
from marketplace.settings import Settings


def attach_search(state: State, settings: Settings) -> None:
    state.search = backend_for(settings)


async def after_demo(db: Database, settings: Settings) -> None:
    await reindex_all(db, backend_for(settings))
