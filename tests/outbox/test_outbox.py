from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from marketplace import outbox, tasks
from marketplace.db import Database, utcnow
from marketplace.indexing.models import IndexState
from marketplace.outbox import OutboxEvent
from tests.conftest import Auth
from tests.support.world import World
from workers.beat import BEAT_SCHEDULE


async def test_a_change_and_its_event_commit_together_and_run_after_commit(
    client, auth: Auth, world: World, db
) -> None:
    # The district edits a published listing in place (an organization's change goes through a revision).
    r = await client.patch(
        f"/api/v1/services/{world.services[0]}", json={"title": "新标题"}, headers=await auth("admin")
    )
    assert r.status_code == 200
    async with db.session(write=False) as s:
        events = (await s.scalars(select(OutboxEvent))).all()
        assert [e.topic for e in events] == ["service.changed"]
        assert events[0].processed_at is not None  # the embedded relay ran it in process after commit
        state = await s.get(IndexState, ("services", world.services[0]))
        assert state is not None and not state.dirty and state.indexed_at is not None
    # ... and the change is searchable at once.
    r = await client.get("/api/v1/services?q=新标题", headers=await auth("director"))
    assert [s["id"] for s in r.json()["items"]][:1] == [world.services[0]]


async def test_a_failed_request_leaves_no_event(client, auth: Auth, world: World, db) -> None:
    r = await client.patch(f"/api/v1/services/{world.services[0]}", json={"age_min": 17}, headers=await auth("org"))
    assert r.status_code == 422
    async with db.session(write=False) as s:
        assert (await s.scalars(select(OutboxEvent))).all() == []


async def test_rolled_back_unit_of_work_is_never_relayed(db: Database) -> None:
    sent: list[int] = []
    with pytest.raises(RuntimeError):
        async with db.session() as session:
            outbox.emit(session, "service.changed", {"service_id": 1})
            await session.flush()
            raise RuntimeError("boom")
    async with db.session() as session:
        ids = outbox.take_pending(session)
    await outbox.relay(db, ids, sent.append)
    assert sent == []
    assert await outbox.sweep(db, sent.append, older_than_seconds=0) == 0


async def test_processing_is_idempotent_and_failures_are_recorded(db: Database, world: World) -> None:
    calls: list[dict[str, Any]] = []

    @outbox.handler("test.flaky")
    async def flaky(session, payload) -> None:
        calls.append(payload)
        if len(calls) == 1:
            raise ValueError("first try fails")

    async with db.session() as session:
        event = outbox.emit(session, "test.flaky", {"n": 1})
        await session.flush()
        ids = outbox.take_pending(session)
    await outbox.relay(db, ids, None)
    async with db.session(write=False) as s:
        row = await s.get(OutboxEvent, event.id)
        assert row is not None and row.processed_at is None and "first try fails" in (row.last_error or "")
    # The sweeper re-delivers what was committed but not processed, once.
    assert await outbox.sweep(db, None, older_than_seconds=0) == 1
    assert await outbox.process_event(db, event.id) is False
    assert len(calls) == 2


async def test_events_a_handler_emits_are_relayed_after_its_commit(db: Database) -> None:
    seen: list[str] = []

    @outbox.handler("test.first")
    async def first(session, payload) -> None:
        seen.append("first")
        outbox.emit(session, "test.second", {})

    @outbox.handler("test.second")
    async def second(session, payload) -> None:
        seen.append("second")

    async with db.session() as session:
        outbox.emit(session, "test.first", {})
        await session.flush()
        ids = outbox.take_pending(session)
    await outbox.relay(db, ids, None)
    assert seen == ["first", "second"]
    async with db.session(write=False) as s:
        assert all(e.processed_at for e in (await s.scalars(select(OutboxEvent))).all())


def test_a_second_handler_for_a_topic_is_refused() -> None:
    @outbox.handler("test.once")
    async def mine(session, payload) -> None:
        return None

    with pytest.raises(RuntimeError, match=r"test\.once"):

        @outbox.handler("test.once")
        async def theirs(session, payload) -> None:
            return None

    outbox.handler("test.once")(mine)  # the same handler again (a module imported twice) is no conflict
    assert outbox.handlers()["test.once"] is mine


async def test_the_sweep_resends_an_unprocessed_event_once_per_age_not_at_every_sweep(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker killed mid-event: the sweep sends the event again once it has gone SWEEP_AGE_SECONDS without being
    processed since its last send; a backlog still being worked through is not sent again at every sweep."""
    monkeypatch.setitem(outbox._RECORD_ONLY, "test.sweep", "a test's event")
    async with db.session() as s:
        outbox.emit(s, "test.sweep", {})
        await s.flush()
        ids = outbox.take_pending(s)
    sent: list[int] = []
    await outbox.relay(db, ids, sent.append)  # handed to a worker that then dies: never processed
    assert sent == ids
    assert await outbox.sweep(db, sent.append) == 0  # just sent: its worker may still be on it

    async def sent_ago(seconds: int) -> None:
        async with db.session() as s:
            event = await s.get(OutboxEvent, ids[0])
            assert event is not None
            event.dispatched_at = utcnow() - dt.timedelta(seconds=seconds)

    await sent_ago(outbox.SWEEP_AGE_SECONDS - 2)
    assert await outbox.sweep(db, sent.append) == 0
    await sent_ago(outbox.SWEEP_AGE_SECONDS + 1)
    assert await outbox.sweep(db, sent.append) == 1 and sent == ids * 2
    assert await outbox.sweep(db, sent.append) == 0  # the resend is noted: not again before another age
    assert outbox.REDO_WITHIN_SECONDS == 30
    assert outbox.SWEEP_AGE_SECONDS + outbox.SWEEP_EVERY_SECONDS < outbox.REDO_WITHIN_SECONDS
    assert BEAT_SCHEDULE["sweep-outbox"]["schedule"] == outbox.SWEEP_EVERY_SECONDS
    assert tasks.VISIBILITY_TIMEOUT_SECONDS > tasks.TASK_TIME_LIMIT_SECONDS  # Redis never hands a running task on
