"""The outbox through a real Redis broker and a real Celery worker process."""

from __future__ import annotations

import asyncio

import pytest
import redis
from litestar import post
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from marketplace import outbox
from marketplace.app import create_app
from marketplace.deps import DbSession
from marketplace.errors import Conflict
from marketplace.indexing.models import IndexState
from marketplace.outbox import OutboxEvent
from tests.support.world import PASSWORD, World

pytestmark = pytest.mark.integration


async def _login(client: AsyncTestClient, username: str) -> dict[str, str]:
    r = await client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def test_worker_runs_the_task_end_to_end(broker_settings, celery_worker, world: World, db) -> None:
    app = create_app(broker_settings)
    async with AsyncTestClient(app=app) as client:
        r = await client.post(f"/api/v1/services/{world.services[0]}/pause", headers=await _login(client, "org"))
        assert r.status_code == 200, r.text
    for _ in range(150):
        async with db.session(write=False) as s:
            event = await s.scalar(select(OutboxEvent))
            if event is not None and event.processed_at is not None:
                break
        await asyncio.sleep(0.1)
    else:
        pytest.fail("the worker did not process the event within 15 s")
    assert event.dispatched_at is not None and event.attempts == 1
    async with db.session(write=False) as s:
        state = await s.get(IndexState, ("services", world.services[0]))
        assert state is not None and not state.dirty and state.indexed_at is not None


async def test_an_event_whose_transaction_rolls_back_is_never_sent(broker_settings, world: World, db) -> None:
    @post("/test/emit-then-fail", operation_id="testEmitThenFail")
    async def emit_then_fail(session: DbSession) -> None:
        outbox.emit(session, "service.changed", {"service_id": world.services[0]})
        await session.flush()
        raise Conflict("rolled back on purpose")

    app = create_app(broker_settings)
    app.register(emit_then_fail)
    async with AsyncTestClient(app=app) as client:
        assert (await client.post("/test/emit-then-fail")).status_code == 409
    broker = redis.Redis.from_url(broker_settings.redis_url)
    assert broker.llen("celery") == 0
    async with db.session(write=False) as s:
        assert (await s.scalars(select(OutboxEvent))).all() == []
