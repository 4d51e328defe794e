"""Writes through a broker outage (issue #18): the app served by granian, a real Celery worker, and a Redis of the
test's own that is stopped for about 7 s in the middle of a run of 30 service creations (each commits a
``service.changed`` event whose handler indexes the service).

* A plain client: every creation the app committed answers 201 (0 server errors), every event is processed once
  Redis is back (the sweep, sent as the beat sends it, hands the events the relay could not send to the worker):
  0 lost effects, and each creation made one service (0 duplicates).
* A client that retries on any error or timeout with the same ``Idempotency-Key`` (its first attempts time out
  on purpose, after the request reached the server): 0 duplicates, every key answered 201 in the end.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from marketplace import tasks
from marketplace.db import Database
from marketplace.indexing.models import IndexState
from marketplace.outbox import OutboxEvent
from marketplace.resources.models import Service
from marketplace.settings import Settings
from tests.resources.test_api import service_body
from tests.support import figures, workers
from tests.support.racing import login
from tests.support.servers import RedisProcess, granian_app
from tests.support.world import PASSWORD, World

pytestmark = pytest.mark.integration

SUITE = "Broker outage writes"
CREATIONS = 30
PACE = 0.4  # seconds between creations: 30 of them span about 12 s
DOWN_AFTER = 3.0  # Redis stops this long after the first creation ...
DOWN_FOR = 7.0  # ... for this long


@dataclass
class Run:
    statuses: dict[int, int] = field(default_factory=dict)
    server_errors: list[str] = field(default_factory=list)
    created: list[int] = field(default_factory=list)
    attempts: int = 0
    timeouts: int = 0
    replays: int = 0
    in_flight: int = 0
    unanswered: int = 0

    def answered(self, r: httpx.Response) -> None:
        self.statuses[r.status_code] = self.statuses.get(r.status_code, 0) + 1
        if r.status_code >= 500:
            self.server_errors.append(f"{r.status_code} {r.text[:300]}")


@pytest.fixture
def outage_settings(settings: Settings, own_redis: RedisProcess) -> Settings:
    return replace(settings, redis_url=own_redis.url, task_always_eager=False)


@pytest.fixture
def worker(outage_settings: Settings, tmp_path: Path) -> Iterator[None]:
    proc = workers.start(outage_settings, tmp_path / "worker.log")
    yield
    workers.stop(proc)


@pytest.fixture
def served(outage_settings: Settings, world: World, worker: None, tmp_path: Path) -> Iterator[str]:
    env = {
        **os.environ,
        "MARKETPLACE_DATABASE_URL": outage_settings.database_url,
        "MARKETPLACE_SECRET_KEY": outage_settings.secret_key,
        "MARKETPLACE_FIELD_KEY": outage_settings.field_key,
        "MARKETPLACE_SEARCH_PATH": outage_settings.search_path,
        "MARKETPLACE_DATA_DIR": str(outage_settings.data_dir),
        "MARKETPLACE_TASKS_EAGER": "0",
        "MARKETPLACE_LOGIN_RATE_LIMIT": "1000",
        "REDIS_URL": outage_settings.redis_url or "",
    }
    with granian_app("marketplace.asgi:app", env, tmp_path / "app.log", factory=False, timeout=60) as url:
        yield url


def outage(redis: RedisProcess, started: threading.Event) -> threading.Thread:
    def run() -> None:
        started.wait()
        time.sleep(DOWN_AFTER)
        redis.restart(down_for=DOWN_FOR)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


async def create_plain(client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any], run: Run) -> None:
    run.attempts += 1
    r = await client.post("/api/v1/services", json=body, headers=headers)
    run.answered(r)
    if r.status_code == 201:
        run.created.append(int(r.json()["id"]))


async def create_retrying(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any], run: Run, n: int
) -> None:
    """Retry on any error or timeout with the same key; every second request's first attempt gives up after
    20 ms, when the server has the request but has not answered yet."""
    key = {"Idempotency-Key": str(uuid.uuid4())}
    for attempt in range(20):
        run.attempts += 1
        timeout = 0.02 if attempt == 0 and n % 2 == 0 else 30.0
        try:
            r = await client.post("/api/v1/services", json=body, headers={**headers, **key}, timeout=timeout)
        except httpx.HTTPError:
            run.timeouts += 1
            await asyncio.sleep(0.2)
            continue
        run.answered(r)
        if r.status_code == 409:
            run.in_flight += 1
            await asyncio.sleep(0.2)
            continue
        if r.status_code >= 500:
            await asyncio.sleep(0.2)
            continue
        if r.status_code == 201:
            run.replays += r.headers.get("idempotent-replayed") == "true"
            run.created.append(int(r.json()["id"]))
        return
    run.unanswered += 1


async def drive(base: str, world: World, redis: RedisProcess, retrying: bool) -> tuple[Run, int]:
    headers = await login(base, "org", PASSWORD)
    run = Run()
    started = threading.Event()
    thread = outage(redis, started)
    restarts = redis.restarts
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        pending = []
        for n in range(CREATIONS):
            body = service_body(world, title=f"停机期间新建的服务 {'R' if retrying else 'P'}{n:02d}")
            step = (
                create_retrying(client, headers, body, run, n) if retrying else create_plain(client, headers, body, run)
            )
            pending.append(asyncio.create_task(step))
            started.set()
            await asyncio.sleep(PACE)
        await asyncio.gather(*pending)
    thread.join(30)
    assert redis.restarts == restarts + 1, "Redis was not stopped and started during the run"
    return run, len(pending)


async def sweep_until_done(settings: Settings, db: Database, service_ids: list[int], within: float = 90) -> int:
    """Send the sweep as the beat does (it runs every 30 s), until every event of the services is processed;
    the number of sweeps sent."""
    celery = tasks.make_celery(settings)
    sweeps = 0
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not await unprocessed(db, service_ids):
            return sweeps
        celery.send_task(tasks.SWEEP_OUTBOX, args=[1])  # events older than 1 s (the beat: 30 s)
        sweeps += 1
        await asyncio.sleep(2)
    return sweeps


async def events_of(db: Database, service_ids: list[int]) -> list[OutboxEvent]:
    wanted = set(service_ids)
    async with db.session(write=False) as s:
        events = (await s.scalars(select(OutboxEvent).where(OutboxEvent.topic == "service.changed"))).all()
    return [e for e in events if e.payload.get("service_id") in wanted]


async def unprocessed(db: Database, service_ids: list[int]) -> list[int]:
    return [e.id for e in await events_of(db, service_ids) if e.processed_at is None]


async def titled(db: Database, prefix: str) -> list[int]:
    async with db.session(write=False) as s:
        return list((await s.scalars(select(Service.id).where(Service.title.startswith(prefix)))).all())


async def indexed(db: Database, service_ids: list[int]) -> int:
    async with db.session(write=False) as s:
        return int(
            await s.scalar(
                select(func.count())
                .select_from(IndexState)
                .where(
                    IndexState.index_name == "services",
                    IndexState.doc_id.in_(service_ids),
                    IndexState.indexed_at.is_not(None),
                    IndexState.dirty.is_(False),
                )
            )
            or 0
        )


async def check(db: Database, settings: Settings, run: Run, prefix: str, requests: int, label: str) -> None:
    stored = await titled(db, prefix)
    # The events the relay could not send while Redis was down (the sweep's work).
    left = sum(e.dispatched_at is None and e.processed_at is None for e in await events_of(db, stored))
    sweeps = await sweep_until_done(settings, db, stored)
    lost = len(await unprocessed(db, stored))
    events = await events_of(db, stored)
    effects = await indexed(db, stored)
    duplicates = len(stored) - len(set(run.created))
    figures.record(SUITE, f"{label}: creations", requests)
    figures.record(SUITE, f"{label}: attempts", run.attempts)
    figures.record(SUITE, f"{label}: server errors", len(run.server_errors))
    figures.record(SUITE, f"{label}: lost effects", lost + (len(stored) - effects))
    figures.record(SUITE, f"{label}: duplicated creations", duplicates)
    figures.record(SUITE, f"{label}: events left for the sweep", left)
    figures.record(SUITE, f"{label}: sweeps sent", sweeps)
    assert left > 0, "no creation fell in the outage"
    assert run.server_errors == [], run.server_errors
    assert run.unanswered == 0
    assert len(set(run.created)) == requests, (run.statuses, run.created)
    assert sorted(stored) == sorted(set(run.created)), "a service was stored that no answer named, or the reverse"
    assert duplicates == 0
    assert lost == 0 and effects == len(stored), (lost, effects, len(stored))
    assert len(events) == len(stored)  # one event per creation, none lost, none doubled


async def test_creations_through_a_broker_outage(
    served: str, outage_settings: Settings, own_redis: RedisProcess, world: World, db: Database
) -> None:
    run, requests = await drive(served, world, own_redis, retrying=False)
    await check(db, outage_settings, run, "停机期间新建的服务 P", requests, "plain client")

    retried, requests = await drive(served, world, own_redis, retrying=True)
    figures.record(SUITE, "retrying client: timeouts injected", retried.timeouts)
    figures.record(SUITE, "retrying client: replayed answers", retried.replays)
    figures.record(SUITE, "retrying client: in-flight refusals (409)", retried.in_flight)
    await check(db, outage_settings, retried, "停机期间新建的服务 R", requests, "retrying client")
    assert retried.timeouts >= CREATIONS // 4, "the retrying client never had to retry"
