"""Async work from sync Celery tasks: one event loop and one database per worker process."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from marketplace.db import Database
from marketplace.features import load_models
from marketplace.settings import get_settings

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


JOBS: dict[str, Callable[[Database], Awaitable[Any]]] = {}


def job(name: str) -> Callable[[Callable[[Database], Awaitable[Any]]], Callable[[Database], Awaitable[Any]]]:
    """Register a periodic job (a coroutine taking the Database) under a dotted name."""

    def register(fn: Callable[[Database], Awaitable[Any]]) -> Callable[[Database], Awaitable[Any]]:
        JOBS[name] = fn
        return fn

    return register
