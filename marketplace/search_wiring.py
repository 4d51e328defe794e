"""Search as the app, the CLI and the demo loader use it: the process's backend on the app's state, a full
reindex after the demo. The machinery (backend, documents, dirty flags) is ``marketplace.indexing``'s."""

from __future__ import annotations

from litestar.datastructures import State

from marketplace.db import Database
from marketplace.indexing.sync import backend_for, reindex_all
from marketplace.settings import Settings, get_settings
from search import SearchBackend


def attach_search(state: State, settings: Settings) -> None:
    state.search = backend_for(settings)


async def after_demo(db: Database, settings: Settings) -> None:
    await reindex_all(db, backend_for(settings))


def current_backend() -> SearchBackend:
    return backend_for(get_settings())


# backend_for and reindex_all are the CLI's (``marketplace reindex``)
__all__ = ["after_demo", "attach_search", "backend_for", "current_backend", "reindex_all"]
