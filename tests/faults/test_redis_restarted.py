"""Redis (the broker, without persistence) killed and started again on the same port while the API takes writes
and a worker runs: every write is answered as it would be with Redis up (nothing needs Redis to answer a write:
the events are in the outbox, in the database), no 500; once Redis is back the worker reconnects by itself, the
sweep sends what was written meanwhile and what the restart lost from the queue, and every effect exists exactly
once.

The Redis-backed limits fail open, by design (README, "When Redis is down"): the sign-in throttle and the limit on
anonymous writes stop counting while Redis is unreachable rather than refuse everyone, and never answer 500.
"""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from marketplace.db import Database
from marketplace.settings import Settings
from tests.faults.conftest import SUITE, Api, effects, recover
from tests.support import figures, workers
from tests.support.servers import RedisProcess

pytestmark = pytest.mark.integration

WRITES = 40
DOWN_WRITES = 12  # writes made while Redis is down (at least)


async def wrong_logins(client: httpx.AsyncClient, username: str, times: int) -> list[int]:
    statuses = []
    for _ in range(times):
        r = await client.post("/api/v1/auth/login", json={"username": username, "password": "wrong-password-1"})
        statuses.append(r.status_code)
    return statuses


async def anonymous_writes(client: httpx.AsyncClient, times: int) -> list[int]:
    """Organization applications without a body worth the name: refused 400 by the handler, or 429 by the limit."""
    statuses = []
    for _ in range(times):
        r = await client.post("/api/v1/organization-applications", json={})
        statuses.append(r.status_code)
    return statuses


async def test_redis_restarted_while_the_api_takes_writes_loses_and_repeats_nothing(
    api: Api, fault_settings: Settings, own_redis: RedisProcess, db: Database, tmp_path: Path
) -> None:
    worker: subprocess.Popen[bytes] = await asyncio.to_thread(
        workers.start, fault_settings, tmp_path / "worker.log", pool=("--pool=prefork", "--concurrency=2")
    )
    client = api.client
    # With Redis up the limits count: the sixth wrong password and the sixth anonymous write are refused.
    assert (await wrong_logins(client, "director2", 6))[-1] == 429
    assert (await anonymous_writes(client, 6))[-1] == 429
    down = threading.Event()
    back = threading.Event()
    during_outage: list[int] = []
    written = 0

    async def stream() -> None:
        nonlocal written
        n = 0
        while n < WRITES or not back.is_set():
            before = api.writes.total
            await api.write(n)
            if down.is_set() and not back.is_set():
                during_outage.extend(range(before, api.writes.total))
            n += 1
            written = n
            await asyncio.sleep(0.05)

    def outage() -> None:
        while written < 8:
            time.sleep(0.02)
        own_redis.kill()
        down.set()
        while len(during_outage) < DOWN_WRITES:
            time.sleep(0.02)
        own_redis.restart()
        back.set()

    try:
        await asyncio.wait_for(asyncio.gather(stream(), asyncio.to_thread(outage)), timeout=120)
        # Redis is back (empty: it kept nothing): the limits count again.
        after_logins = await wrong_logins(client, "director3", 6)
        after_anonymous = await anonymous_writes(client, 6)
        await recover(db, fault_settings, within=90)
        found = await effects(db, api.writes)
        assert worker.poll() is None, "the worker did not survive the broker's restart"
    finally:
        workers.stop(worker)

    figures.record(SUITE, "Redis restarts", own_redis.restarts)
    figures.record(SUITE, "writes during faults", len(during_outage))
    figures.record(SUITE, "effects lost", found.lost)
    figures.record(SUITE, "effects duplicated", found.duplicated)
    figures.record(SUITE, "unprocessed outbox events", found.unprocessed)
    figures.record(SUITE, "server errors", len(api.writes.server_errors))
    assert api.writes.server_errors == []
    assert len(during_outage) >= DOWN_WRITES
    assert set(api.writes.statuses) <= {201, 202}, api.writes.statuses
    assert found.detail == [] and found.lost == 0 and found.duplicated == 0
    assert found.unprocessed == 0
    assert after_logins[-1] == 429 and after_anonymous[-1] == 429


async def test_the_redis_backed_limits_fail_open_without_a_server_error(
    api: Api, fault_settings: Settings, own_redis: RedisProcess
) -> None:
    client = api.client
    await api.login("director")
    own_redis.kill()
    try:
        logins = await wrong_logins(client, "director2", 8)
        anonymous = await anonymous_writes(client, 8)
        r = await client.get("/health")
    finally:
        own_redis.restart()
    figures.record(SUITE, "Redis restarts", 1)
    # Open: nobody is locked out by the broker's outage; nothing answers 500.
    assert logins == [401] * 8, logins
    assert anonymous == [400] * 8, anonymous
    assert r.status_code == 200 and r.json()["broker"].startswith("unavailable"), r.text
    assert r.json()["status"] == "degraded"
