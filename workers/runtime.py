"""Async work from sync Celery tasks: one event loop and one database per worker process.

The jobs themselves are registered by the features in ``marketplace.tasks.JOBS``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from marketplace.db import Database
from marketplace.features import load_models
from marketplace.settings import get_settings
from marketplace.tasks import JOBS

T = TypeVar("T")
_loop: asyncio.AbstractEventLoop | None = None
_db: Database | None = None


def run(fn: Callable[[Database], Awaitable[T]]) -> T:
    global _loop, _db
    if _loop is None:
        _loop = asyncio.new_event_loop()
    if _db is None:
        load_models()
        _db = Database(get_settings())
    return _loop.run_until_complete(fn(_db))


__all__ = ["JOBS", "run"]
