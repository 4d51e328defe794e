"""Fifty service edits at once, each relayed right after its commit as a request's are (issue #17): on
PostgreSQL they clashed on the search-index bookkeeping key (two first inserts of the same row; handlers locking
each other's rows) and left outbox events unprocessed. Truly concurrent: one session and connection per edit."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import func, select

from marketplace import outbox
from marketplace.auth.principal import Principal
from marketplace.db import Database
from marketplace.indexing import handlers as indexing_handlers
from marketplace.indexing.models import IndexState
from marketplace.outbox import OutboxEvent
from marketplace.resources import service as pool
from marketplace.resources.models import Service
from marketplace.resources.schemas import ServicePatch
from tests.support.world import World

EDITS = 50


class RecordingBackend:
    """The search engine's contract as far as this test needs it: the last document given per id wins."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[int, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def index(self, index_name: str, docs: Sequence[dict[str, Any]]) -> None:
        with self._lock:
            for doc in docs:
                self.docs.setdefault(index_name, {})[int(doc["id"])] = dict(doc)

    def delete(self, index_name: str, ids: Sequence[int]) -> None:
        with self._lock:
            for i in ids:
                self.docs.setdefault(index_name, {}).pop(i, None)


@pytest.fixture
def backend(monkeypatch: pytest.MonkeyPatch) -> RecordingBackend:
    fake = RecordingBackend()
    monkeypatch.setattr(indexing_handlers, "backend_for", lambda settings: fake)
    return fake


async def test_fifty_concurrent_edits_leave_no_unprocessed_event_and_the_index_current(
    db: Database, world: World, backend: RecordingBackend
) -> None:
    admin = Principal(user_id=world.users["admin"], username="admin", role="district_admin")
    services = world.services[:5]
    errors: list[BaseException] = []

    async def edit(n: int) -> list[int]:
        service_id = services[n % len(services)]
        async with db.session() as session:
            session.info["settings"] = db.settings
            await pool.update_service(session, admin, service_id, ServicePatch(title=f"编辑后的服务 {n}"))
        return outbox.take_pending(session)

    async def relay(event_ids: list[int]) -> None:
        # What the app does after a request's commit: relay the events it wrote, in process.
        try:
            await outbox.relay(db, event_ids, None)
        except BaseException as exc:
            errors.append(exc)

    written = await asyncio.gather(*(edit(n) for n in range(EDITS)))
    # All relays at once, each in its own session: the handlers meet on the same bookkeeping rows.
    await asyncio.gather(*(relay(ids) for ids in written))
    assert errors == []

    async with db.session(write=False) as s:
        events = (await s.scalars(select(OutboxEvent).where(OutboxEvent.topic == "service.changed"))).all()
        assert len(events) == EDITS
        failed = [(e.id, e.last_error) for e in events if e.processed_at is None or e.last_error]
        assert failed == []
        assert await s.scalar(select(func.count()).where(IndexState.dirty.is_(True))) == 0
        titles = dict((await s.execute(select(Service.id, Service.title).where(Service.id.in_(services)))).all())
    for service_id in services:
        # The index holds each service's last committed edit.
        assert backend.docs["services"][service_id]["title"] == titles[service_id]


class _Deadlock(Exception):
    sqlstate = "40P01"


async def test_a_handler_that_lost_a_race_is_run_again(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.exc import DBAPIError

    calls: list[int] = []

    async def flaky(session: Any, payload: dict[str, Any]) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise DBAPIError("UPDATE …", {}, _Deadlock("deadlock detected"))

    monkeypatch.setitem(outbox._HANDLERS, "test.flaky", flaky)

    async with db.session() as session:
        outbox.emit(session, "test.flaky", {})
    await outbox.relay(db, outbox.take_pending(session), None)
    async with db.session(write=False) as s:
        event = (await s.scalars(select(OutboxEvent).where(OutboxEvent.topic == "test.flaky"))).one()
    assert len(calls) == 2 and event.processed_at is not None and event.last_error is None
