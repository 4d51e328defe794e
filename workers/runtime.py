"""Async work from sync Celery tasks: one event loop and one database per worker process.

The jobs themselves are registered by the features in ``marketplace.tasks.JOBS``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

from marketplace.db import Database
from marketplace.features import load_models
from marketplace.indexing.documents import LABELS
from marketplace.indexing.sync import backend_for
from marketplace.settings import get_settings
from marketplace.tasks import JOBS
from search import SearchBackend
from search.text import analyzer

log = logging.getLogger("workers.runtime")

T = TypeVar("T")
_loop: asyncio.AbstractEventLoop | None = None
_db: Database | None = None


def warm() -> None:
    """Load what the first task would otherwise wait for, as the worker starts: the models, the search engine and,
    for the embedded engine, the segmenter's dictionary (5–14 s on this machine before the first change reached
    search). The index itself is never loaded: a worker only writes it."""
    load_models()
    backend = backend_for(get_settings())
    if backend.in_process:
        analyzer(LABELS.all()).tokenizer()
    else:
        # Meilisearch: `marketplace search setup` in the background (idempotent; a settings change on a populated
        # index can take minutes), so the worker takes tasks at once and a slow or absent server never stops it.
        threading.Thread(target=_setup_search, args=(backend,), name="search-setup", daemon=True).start()


def _setup_search(backend: SearchBackend) -> None:
    try:
        backend.ensure_indexes()
    except Exception:
        log.warning("search setup at worker start failed (run `marketplace search setup`)", exc_info=True)
    else:
        log.info("search indexes set up at worker start")


def run(fn: Callable[[Database], Awaitable[T]]) -> T:
    global _loop, _db
    if _loop is None:
        _loop = asyncio.new_event_loop()
    if _db is None:
        load_models()
        _db = Database(get_settings())
    return _loop.run_until_complete(fn(_db))


__all__ = ["JOBS", "run", "warm"]
