"""A broker that does not answer never turns a committed write into an error (API and console): one WARNING names
each event left behind and its topic, and the sweep delivers it once the broker is back."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import select

from marketplace import outbox
from marketplace.outbox import OutboxEvent
from tests.admin.console import console_login, csrf_of
from tests.conftest import Auth
from tests.support.world import World


def broker_down(_event_id: int) -> None:
    raise ConnectionError("Error 111 connecting to localhost:6379. Connection refused.")


async def unprocessed(db: Any) -> list[OutboxEvent]:
    async with db.session(write=False) as s:
        return list((await s.scalars(select(OutboxEvent).where(OutboxEvent.processed_at.is_(None)))).all())


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "marketplace.outbox" and r.levelno >= logging.WARNING]


async def deliver_by_sweep(db: Any, expected: list[int]) -> None:
    sent: list[int] = []
    assert await outbox.sweep(db, sent.append, older_than_seconds=0) == len(expected)
    assert sent == expected
    for event_id in sent:  # what the worker does with each id it is sent
        assert await outbox.process_event(db, event_id)
    assert await unprocessed(db) == []


async def test_an_api_write_answers_while_the_broker_is_down(
    client, app, auth: Auth, world: World, db, caplog: pytest.LogCaptureFixture
) -> None:
    app.state.dispatcher = broker_down
    caplog.set_level(logging.WARNING, logger="marketplace.outbox")
    h = {**await auth("admin"), "Idempotency-Key": "paused-while-redis-down"}
    r = await client.post(f"/api/v1/services/{world.services[0]}/pause", headers=h)
    assert r.status_code == 200, r.text
    [event] = await unprocessed(db)
    [warning] = warnings_of(caplog)
    assert warning.exc_info is None and f"{event.id} ({event.topic})" in warning.getMessage()
    assert "sweep" in warning.getMessage() and warning.__dict__["event_ids"] == [event.id]
    await deliver_by_sweep(db, [event.id])


async def test_a_console_write_answers_while_the_broker_is_down(
    client, app, world: World, db, caplog: pytest.LogCaptureFixture
) -> None:
    app.state.dispatcher = broker_down
    caplog.set_level(logging.WARNING, logger="marketplace.outbox")
    await console_login(client, "admin")
    page = await client.get("/admin/pool?tab=published")
    r = await client.post(
        f"/admin/pool/services/{world.services[0]}/pause",
        data={"_csrf_token": csrf_of(page.text), "tab": "published"},
        follow_redirects=False,
    )
    assert r.status_code in (200, 303), r.text
    events = await unprocessed(db)
    assert [e.topic for e in events] == ["service.changed"]
    [warning] = warnings_of(caplog)
    assert f"{events[0].id} (service.changed)" in warning.getMessage()
    await deliver_by_sweep(db, [events[0].id])
