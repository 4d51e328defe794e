"""The daily job ``safety.grade``: it keeps every child's warning current, escalates the late ones to the street's
supervisors once, resolves a warning whose causes are gone, and a second run changes nothing."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from marketplace import clock
from marketplace.cases.models import Child, Notification
from marketplace.safety.jobs import grade
from marketplace.safety.models import SafetyWarning, SafetyWarningEvent
from marketplace.tasks import JOBS
from tests.cases.support import Cases
from tests.support import figures

SUITE = "Safety warnings"
JULY_NOON = dt.datetime(2026, 7, 10, 4, 0, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)


async def state(db) -> tuple[dict[int, tuple[str, str, bool]], int, int]:
    async with db.session(write=False) as s:
        open_ = {
            w.child_id: (w.grade, w.status, w.escalated_at is not None)
            for w in (await s.scalars(select(SafetyWarning).where(SafetyWarning.open_child_id.is_not(None)))).all()
        }
        events = int(await s.scalar(select(func.count()).select_from(SafetyWarningEvent)) or 0)
        notes = int(await s.scalar(select(func.count()).select_from(Notification)) or 0)
    return open_, events, notes


async def test_grade_escalate_resolve_and_run_twice(db, world, cases: Cases, client, auth, frozen_clock) -> None:
    assert JOBS["safety.grade"] is grade
    frozen_clock(JULY_NOON)
    today = clock.today()
    a, b, c = cases.children["A"], cases.children["B"], cases.children["C"]
    async with db.session() as s:
        for cid, risk, due in (
            (a, "low", today + dt.timedelta(days=5)),
            (b, "high", today - dt.timedelta(days=10)),
            (c, "medium", today - dt.timedelta(days=2)),
        ):
            child = await s.get(Child, cid)
            assert child is not None
            child.risk_level, child.next_visit_due = risk, due

    assert await grade(db) == 2
    first = await state(db)
    assert first[0] == {b: ("orange", "open", False), c: ("blue", "open", False)}
    assert await grade(db) == 0 and await state(db) == first  # run twice: nothing changes

    # 72 hours on, the orange warning is not acknowledged: escalated to street 1's supervisor, urgently.
    frozen_clock(JULY_NOON + 73 * H)
    assert await grade(db) >= 1
    async with db.session(write=False) as s:
        up = (await s.scalars(select(Notification).where(Notification.kind == "safety_warning_escalated"))).all()
    assert [(n.recipient_id, n.data["urgent"]) for n in up] == [(world.users["supervisor"], True)]
    second = await state(db)
    assert second[0][b] == ("orange", "open", True)
    assert await grade(db) == 0 and await state(db) == second

    # The supervisor sees it first and adds a note.
    sup = await auth("supervisor")
    listed = (await client.get("/api/v1/safety/warnings?status=escalated", headers=sup)).json()
    assert [w["child_id"] for w in listed["items"]] == [b] and listed["items"][0]["allowed_actions"] == ["note"]
    r = await client.post(
        f"/api/v1/safety/warnings/{listed['items'][0]['id']}/actions",
        json={"note": "已电话督促儿童主任今日入户"},
        headers=sup,
    )
    assert r.status_code == 200, r.text

    # The visit recorded and the risk lowered: the causes are gone, the warning resolves itself.
    async with db.session() as s:
        child = await s.get(Child, b)
        assert child is not None
        child.risk_level, child.next_visit_due = "low", clock.today() + dt.timedelta(days=30)
    assert await grade(db) == 1
    third = await state(db)
    assert b not in third[0]
    async with db.session(write=False) as s:
        kinds = (
            await s.scalars(
                select(SafetyWarningEvent.kind)
                .join(SafetyWarning)
                .where(SafetyWarning.child_id == b)
                .order_by(SafetyWarningEvent.id)
            )
        ).all()
    assert kinds == ["raised", "escalated", "note", "resolved"]
    assert await grade(db) == 0 and await state(db) == third

    # A file closed: its warning resolves too.
    async with db.session() as s:
        child = await s.get(Child, c)
        assert child is not None
        child.status = "closed"
    assert await grade(db) == 1 and c not in (await state(db))[0]
    figures.record(SUITE, "job runs", 8)
    figures.record(SUITE, "job reruns that changed something", 0)
