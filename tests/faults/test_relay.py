"""The relay when the broker fails in the middle of handing a request's events on: the request has committed, so
nothing is raised; what was sent is marked dispatched, the rest stays for the sweeper, which sends it once the
broker answers again."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from marketplace import outbox
from marketplace.db import Database
from marketplace.outbox import OutboxEvent


async def test_a_broker_failing_mid_relay_leaves_the_rest_to_the_sweeper(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(outbox._RECORD_ONLY, "faults.test", "a test's event")
    async with db.session() as s:
        for n in range(4):
            outbox.emit(s, "faults.test", {"n": n})
        await s.flush()
        ids = outbox.take_pending(s)
    sent: list[int] = []

    def flaky(event_id: int) -> None:
        if len(sent) == 2:
            raise ConnectionError("broker down")
        sent.append(event_id)

    await outbox.relay(db, ids, flaky)  # no exception reaches the request
    async with db.session(write=False) as s:
        rows = {e.id: e for e in (await s.scalars(select(OutboxEvent))).all()}
    assert sent == ids[:2]
    assert [rows[i].dispatched_at is not None for i in ids] == [True, True, False, False]

    resent: list[int] = []
    assert await outbox.sweep(db, resent.append, older_than_seconds=0) == 4
    assert resent == ids  # unprocessed events go again, sent or not: the broker may have lost them
