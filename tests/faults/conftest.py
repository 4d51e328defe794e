"""Faults injected (issue #17): a Redis of the test's own that it can stop and start again on the same port, Celery
workers it can kill, and the writes and effects the tests count."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace

import pytest
import redis
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from marketplace import tasks
from marketplace.app import create_app
from marketplace.cases.models import Notification
from marketplace.db import Database
from marketplace.outbox import OutboxEvent
from marketplace.referrals.models import Referral
from marketplace.reports.models import ExportJob
from marketplace.settings import Settings
from tests.cases.support import add_child, add_need
from tests.support.servers import RedisProcess
from tests.support.world import PASSWORD, World

SUITE = "Faults injected"


@pytest.fixture
def fault_settings(settings: Settings, own_redis: RedisProcess) -> Settings:
    # Low limits, so that a test can tell whether the Redis-backed throttles count (the streams sign in twice).
    return replace(
        settings,
        redis_url=own_redis.url,
        task_always_eager=False,
        login_rate_limit_per_minute=5,
        anonymous_write_limit=5,
    )


@dataclass
class Writes:
    """What the API acknowledged: referrals sent (each: one notification to the provider's staff) and background
    exports asked for (each: one finished file)."""

    referrals: list[int] = field(default_factory=list)
    exports: list[int] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    server_errors: list[str] = field(default_factory=list)

    def answered(self, status: int, text: str) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status >= 500:
            self.server_errors.append(f"{status} {text[:300]}")

    @property
    def total(self) -> int:
        return sum(self.statuses.values())


class Api:
    """The app (as `marketplace serve` builds it, on the test's broker) driven through its ASGI interface, with a
    pool of open needs to send referrals for."""

    def __init__(self, client: AsyncTestClient, needs: list[int], service_id: int) -> None:
        self.client = client
        self.needs = needs
        self.service_id = service_id
        self.headers: dict[str, dict[str, str]] = {}
        self.writes = Writes()

    async def login(self, username: str) -> dict[str, str]:
        if username not in self.headers:
            r = await self.client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
            assert r.status_code == 200, r.text
            self.headers[username] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        return self.headers[username]

    async def send_referral(self) -> None:
        assert self.needs, "the stream used every open need"
        need_id = self.needs.pop()
        r = await self.client.post(
            "/api/v1/referrals",
            json={"need_id": need_id, "service_id": self.service_id},
            headers=await self.login("director"),
        )
        self.writes.answered(r.status_code, r.text)
        if r.status_code == 201:
            self.writes.referrals.append(int(r.json()["id"]))
        else:
            assert r.status_code < 500, r.text

    async def ask_export(self) -> None:
        r = await self.client.post(
            "/api/v1/reports/exports",
            json={"kind": "coverage_all", "format": "csv"},
            headers=await self.login("admin"),
        )
        self.writes.answered(r.status_code, r.text)
        if r.status_code == 202:
            self.writes.exports.append(int(r.json()["id"]))
        else:
            assert r.status_code < 500, r.text

    async def write(self, n: int) -> None:
        """The n-th write of a stream: mostly referrals, every fourth an export."""
        await (self.ask_export() if n % 4 == 3 else self.send_referral())


async def open_needs(db: Database, settings: Settings, world: World, count: int) -> list[int]:
    """``count`` open needs for psychological counselling (the first service's category) in the director's
    community, on children of an age and category the service takes: each can be referred once."""
    needs: list[int] = []
    async with db.session() as s:
        for i in range(count):
            child = await add_child(
                s, settings, world.communities[0], world.streets[0], name=f"测试儿童{i}", seq=f"{i % 1000:03d}"
            )
            needs.append((await add_need(s, child, "psych_counselling")).id)
    return needs


@pytest.fixture
async def api(fault_settings: Settings, db: Database, world: World) -> AsyncIterator[Api]:
    needs = await open_needs(db, fault_settings, world, 250)
    async with AsyncTestClient(app=create_app(fault_settings)) as client:
        yield Api(client, needs, world.services[0])


@dataclass
class Effects:
    lost: int
    duplicated: int
    unprocessed: int
    detail: list[str]


async def unprocessed(db: Database) -> int:
    async with db.session(write=False) as s:
        return int(await s.scalar(select(func.count()).where(OutboxEvent.processed_at.is_(None))) or 0)


async def recover(db: Database, settings: Settings, within: float = 60.0) -> None:
    """Do what the beat does every 10 s (send the outbox sweep) until every event is processed and the queue is
    empty; the sweep here takes events of any age instead of those not sent for 15 s, so the test need not wait."""
    celery = tasks.make_celery(settings)
    broker = redis.Redis.from_url(settings.redis_url or "")
    deadline = time.monotonic() + within
    while True:
        if await unprocessed(db) == 0 and broker.llen("celery") == 0:
            break
        assert time.monotonic() < deadline, f"{await unprocessed(db)} outbox events still unprocessed"
        celery.send_task(tasks.SWEEP_OUTBOX, kwargs={"older_than_seconds": 0})
        await asyncio.sleep(2.0)
    await asyncio.sleep(0.5)  # a duplicate delivery still running would show in the counts below


async def effects(db: Database, writes: Writes) -> Effects:
    """Every acknowledged write's effect, counted: a referral's notification to the provider's one staff member,
    an export's finished file; anything else (a second notification, an export not done) is a finding."""
    detail: list[str] = []
    lost = duplicated = 0
    async with db.session(write=False) as s:
        referrals = set((await s.scalars(select(Referral.id))).all())
        rows = (
            await s.execute(
                select(Notification.entity_id, func.count())
                .where(Notification.kind == "referral_sent")
                .group_by(Notification.entity_id)
            )
        ).all()
        notes = {int(i): int(n) for i, n in rows}
        for rid in writes.referrals:
            if rid not in referrals:
                lost += 1
                detail.append(f"referral {rid} acknowledged but not stored")
            n = notes.get(rid, 0)
            if n == 0:
                lost += 1
                detail.append(f"referral {rid}: no notification")
            elif n > 1:
                duplicated += n - 1
                detail.append(f"referral {rid}: {n} notifications")
        extra = set(notes) - set(writes.referrals)
        duplicated += len(extra)
        detail += [f"notification for referral {rid} nobody asked for" for rid in sorted(extra)]
        jobs = {j.id: j for j in (await s.scalars(select(ExportJob))).all()}
        for jid in writes.exports:
            job = jobs.get(jid)
            if job is None or job.status != "done" or not job.size_bytes or not job.filename:
                lost += 1
                detail.append(f"export {jid}: {None if job is None else (job.status, job.error)}")
        duplicated += len(set(jobs) - set(writes.exports))
    return Effects(lost, duplicated, await unprocessed(db), detail)
