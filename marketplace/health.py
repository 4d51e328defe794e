"""Health: whether this process answers, whether it can serve, and a detailed page for the people who run it.

- ``GET /health/live`` (liveness): the process answers; no I/O at all, so a slow or absent database never gets a
  serving process restarted. 200 ``{"status": "ok"}``.
- ``GET /health/ready`` (readiness): what a request needs answers: the database (``SELECT 1``), the broker (Redis
  ``PING``, when one is configured and tasks are not eager) and the search backend, checked at once, each within
  its own timeout (``Settings.ready_timeouts``). 200 with each check's result and duration, or 503 problem+json
  naming the failing checks, with ``Retry-After``: a load balancer stops sending this process requests until it is
  ready again, without restarting it.
- ``GET /health`` (for people): the same checks and more, always 200 (``status`` says ``ok``, ``degraded`` or
  ``down``): the migration heads in the database against the code's, the outbox events not yet processed, the
  documents in each search index, the versions.

All three are anonymous, read no child's data (nothing to audit, no request session), and are cheap: a load
balancer may call them every second. They take no rate limit (no guard) and answer even while the database is out
of reach; ``PROBE_PATHS`` names them for whatever counts or logs requests and wants to leave probes out.
"""

from __future__ import annotations

import asyncio
import logging
import platform
import threading
import time
from collections.abc import Awaitable, Callable
from importlib import metadata
from typing import Any, Final, TypeVar

import anyio.to_thread
import msgspec
import redis.asyncio as aioredis
from litestar import get
from litestar.datastructures import State
from sqlalchemy import func, select, text

from marketplace.db import Database
from marketplace.errors import DomainError
from marketplace.indexing.freshness import index_lag
from marketplace.migrate import code_heads, migration_status
from marketplace.outbox import OutboxEvent
from marketplace.settings import Settings
from search import INDEX_NAMES, SearchBackend, SearchQuery

log = logging.getLogger("marketplace.health")
T = TypeVar("T")

PROBE_PATHS: Final = frozenset({"/health", "/health/live", "/health/ready"})

# A check's result.
OK: Final = "ok"
UNAVAILABLE: Final = "unavailable"
TIMEOUT: Final = "timeout"
SKIPPED: Final = "skipped"  # not part of this deployment (no broker in eager mode, no search backend)

# The overall state /health reports.
STATUS_OK: Final = "ok"
DEGRADED: Final = "degraded"  # it serves, but something it uses is out (the broker, search) or out of date
DOWN: Final = "down"  # the database is out of reach: nothing but these probes can be answered

# Seconds a load balancer is asked to wait before asking /health/ready again.
READY_RETRY_AFTER: Final = 5
EAGER_BROKER: Final = "eager (in process)"


class Check(msgspec.Struct, omit_defaults=True):
    """One dependency's check: ``ok``, ``unavailable`` (it answered with an error), ``timeout`` (no answer within its
    timeout) or ``skipped`` (not part of this deployment); ``detail`` says why (an exception's class, never its
    message: that may name hosts and users)."""

    status: str
    duration_ms: float
    detail: str | None = None


class Liveness(msgspec.Struct):
    status: str


class Readiness(msgspec.Struct):
    """Ready: every check ``ok`` or ``skipped``."""

    status: str
    checks: dict[str, Check]


class Migrations(msgspec.Struct):
    """The migration heads the code has and those the database is at (None: not readable); ``current`` when
    they are the same."""

    code: list[str]
    database: list[str] | None
    current: bool


class Versions(msgspec.Struct):
    app: str
    python: str
    migrations: Migrations


class Health(msgspec.Struct):
    """For people: ``status`` ``ok``, ``degraded`` (serving, but the broker or search is out, or the database is not
    at the code's migrations) or ``down`` (the database out of reach); ``database``, ``search``, ``broker`` in a
    word (``ok``, ``unavailable: <why>``, ``eager (in process)``), ``checks`` as ``/health/ready`` has them."""

    status: str
    database: str
    search: str
    broker: str
    checks: dict[str, Check]
    versions: Versions
    # Outbox events committed and not yet processed (None while the database is out of reach).
    outbox_pending: int | None
    # Documents in each search index (None while search is out of reach).
    search_documents: dict[str, int] | None
    # How far search is behind the database (marketplace.indexing.freshness.index_lag: documents waiting to be
    # indexed, the oldest one's age, changes this process has not applied yet); None while it cannot be told.
    search_lag: dict[str, Any] | None = None


class NotReady(DomainError):
    """``/health/ready``'s 503: the failing checks named in the detail, every check under ``checks``."""

    status_code = 503


# ---------------------------------------------------------------- the checks


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


async def _timed(name: str, seconds: float, probe: Callable[[], Awaitable[str | None]]) -> Check:
    """``probe()`` within ``seconds``: ``ok`` (with what it said), ``timeout`` or ``unavailable``; never raises."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(seconds):
            detail = await probe()
    except TimeoutError:
        log.debug("health check %s: no answer within %s s", name, seconds)
        return Check(TIMEOUT, _ms(started), f"no answer within {seconds:g} s")
    except Exception as exc:
        log.debug("health check %s failed", name, exc_info=True)
        return Check(UNAVAILABLE, _ms(started), type(exc).__name__)
    return Check(OK, _ms(started), detail)


async def _select_one(db: Database) -> None:
    # On the async engine (the requests' sessions use it): unlike a read in a worker thread, it can be abandoned
    # at its timeout. A pool with no connection free for that long counts as not ready, rightly.
    async with db.read_engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def _ping(redis_url: str, seconds: float) -> None:
    client = aioredis.Redis.from_url(redis_url, socket_connect_timeout=seconds, socket_timeout=seconds)
    try:
        await client.ping()
    finally:
        await client.aclose()


class SearchUnavailable(Exception):
    """The search backend's own health check said it is not available."""


class ProbeThreadsBusy(TimeoutError):
    """Every thread the probes may use is still waiting on an earlier call (a hung backend): this check cannot
    answer in time either."""


class ProbeThreads:
    """Runs a check's blocking call (the search backend's) in a worker thread that a timeout abandons, at most
    ``limit`` at once per process, counting an abandoned thread until its call really ends: probes every second at
    a hung backend never take the threads requests need (an abandoned thread still holds its place in a limiter's
    count only until it is abandoned, so anyio's own limiter would not bound them)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.busy = 0
        self._lock = threading.Lock()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        with self._lock:
            if self.busy >= self.limit:
                raise ProbeThreadsBusy(f"{self.busy} earlier checks still waiting")
            self.busy += 1

        def call() -> T:
            try:
                return fn(*args)
            finally:
                with self._lock:
                    self.busy -= 1

        return await anyio.to_thread.run_sync(call, abandon_on_cancel=True)


PROBE_THREADS: Final = ProbeThreads(2)


async def _search_health(search: SearchBackend) -> None:
    said = await PROBE_THREADS.run(search.health)
    if said != OK:
        raise SearchUnavailable(said)


async def run_checks(state: State) -> dict[str, Check]:
    """The database, the broker and search, checked at once, each within its own timeout."""
    settings: Settings = state.settings
    db: Database = state.db
    timeouts = settings.ready_timeouts
    search: SearchBackend | None = getattr(state, "search", None)

    async def skipped(detail: str) -> Check:
        return Check(SKIPPED, 0.0, detail)

    redis_url = settings.redis_url
    broker = (
        _timed("broker", timeouts.broker, lambda: _ping(redis_url, timeouts.broker))
        if redis_url and not settings.task_always_eager
        else skipped(EAGER_BROKER)
    )
    searched = (
        _timed("search", timeouts.search, lambda: _search_health(search))
        if search is not None
        else skipped("not configured")
    )
    database, broker_check, search_check = await asyncio.gather(
        _timed("database", timeouts.database, lambda: _select_one(db)), broker, searched
    )
    return {"database": database, "broker": broker_check, "search": search_check}


def failing(checks: dict[str, Check]) -> list[str]:
    return [name for name, check in checks.items() if check.status not in (OK, SKIPPED)]


# ---------------------------------------------------------------- what /health adds


async def _database_heads(db: Database) -> list[str]:
    current, _ = await migration_status(db)
    return list(current)


async def _outbox_pending(db: Database) -> int:
    async with db.read_engine.connect() as conn:
        count = await conn.scalar(select(func.count()).where(OutboxEvent.processed_at.is_(None)))
        return int(count or 0)


def _documents(search: SearchBackend) -> dict[str, int]:
    return {name: search.search(name, SearchQuery(limit=0)).total for name in INDEX_NAMES}


async def _within(seconds: float, work: Awaitable[Any]) -> Any:
    """``work``'s result within ``seconds``, or None when it failed or took longer (/health shows what it can)."""
    try:
        async with asyncio.timeout(seconds):
            return await work
    except Exception:
        log.debug("health detail not available", exc_info=True)
        return None


def _word(check: Check) -> str:
    if check.status == OK:
        return OK
    if check.status == SKIPPED:
        return check.detail or SKIPPED
    return f"{UNAVAILABLE}: {check.detail or check.status}"


def _app_version() -> str:
    try:
        return metadata.version("marketplace")
    except metadata.PackageNotFoundError:
        return "unknown"


# ---------------------------------------------------------------- the endpoints


# Anonymous (``security=[{}]``): a load balancer or an orchestrator has no token.
@get(
    "/health/live",
    operation_id="health_live",
    summary="存活检查（进程在应答，不做任何 I/O）",
    tags=["health"],
    security=[{}],
)
async def live() -> Liveness:
    return Liveness(status=OK)


@get(
    "/health/ready",
    operation_id="health_ready",
    summary="就绪检查（数据库、消息代理、搜索；未就绪时 503）",
    tags=["health"],
    security=[{}],
)
async def ready(state: State) -> Readiness:
    checks = await run_checks(state)
    down = failing(checks)
    if down:
        raise NotReady(
            "服务未就绪：" + "、".join(down) + f" 不可用 (not ready: {', '.join(down)})",
            headers={"Retry-After": str(READY_RETRY_AFTER)},
            retry_after=READY_RETRY_AFTER,
            failing=down,
            checks=msgspec.to_builtins(checks),
        )
    return Readiness(status=OK, checks=checks)


@get("/health", operation_id="health", summary="健康检查（详细，供运维人员阅读）", tags=["health"], security=[{}])
async def health(state: State) -> Health:
    settings: Settings = state.settings
    db: Database = state.db
    search: SearchBackend | None = getattr(state, "search", None)
    checks = await run_checks(state)
    database_up = checks["database"].status == OK
    seconds = settings.ready_timeouts
    counted = (
        _within(seconds.search, PROBE_THREADS.run(_documents, search))
        if search is not None and checks["search"].status == OK
        else _nothing()
    )
    lag = (
        _within(seconds.search, index_lag(db, search))
        if search is not None and database_up and checks["search"].status == OK
        else _nothing()
    )
    heads, pending, documents, search_lag = await asyncio.gather(
        _within(seconds.database, _database_heads(db)) if database_up else _nothing(),
        _within(seconds.database, _outbox_pending(db)) if database_up else _nothing(),
        counted,
        lag,
    )
    code = list(await anyio.to_thread.run_sync(code_heads))  # parsed once per process: not on the event loop
    migrations = Migrations(code=code, database=heads, current=heads == code)
    if not database_up:
        status = DOWN
    elif failing(checks) or not migrations.current:
        status = DEGRADED
    else:
        status = STATUS_OK
    return Health(
        status=status,
        database=_word(checks["database"]),
        search=_word(checks["search"]),
        broker=_word(checks["broker"]),
        checks=checks,
        versions=Versions(app=_app_version(), python=platform.python_version(), migrations=migrations),
        outbox_pending=pending,
        search_documents=documents,
        search_lag=search_lag,
    )


async def _nothing() -> None:
    return None


ROUTES = [live, ready, health]
