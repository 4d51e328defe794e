"""Overdue home visits (issue 13): the community's director is alerted the day a visit is past due, the street's
supervisor once it is ``visit_grace_days`` past; one digest per person per day, one ladder step per child and due
date."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from marketplace import clock
from marketplace.cases.jobs import visit_alerts, visit_entity
from marketplace.cases.models import Child, Escalation, Notification
from marketplace.tasks import JOBS
from tests.cases.support import Cases, add_child

# Noon in the district, a fixed day: the job counts days on the district's calendar.
NOON = dt.datetime(2026, 3, 10, 4, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 3, 10)


async def digests(db) -> dict[int, list[dict[str, object]]]:
    async with db.session(write=False) as s:
        rows = await s.scalars(
            select(Notification).where(Notification.kind == "escalation_visit").order_by(Notification.id)
        )
        out: dict[int, list[dict[str, object]]] = {}
        for n in rows.all():
            out.setdefault(n.recipient_id, []).append(n.data)
        return out


async def ladder(db) -> set[tuple[int, int, str]]:
    async with db.session(write=False) as s:
        rows = await s.scalars(select(Escalation).where(Escalation.kind == "visit"))
        return {(int(e.child_id or 0), e.level, e.entity) for e in rows.all()}


async def test_overdue_visits_alert_director_then_supervisor_after_grace(
    db, world, cases: Cases, settings, frozen_clock
) -> None:
    assert JOBS["cases.visit_alerts"] is visit_alerts
    grace = settings.deadlines.visit_grace_days
    frozen_clock(NOON)
    a, b, c = cases.children["A"], cases.children["B"], cases.children["C"]
    yesterday = TODAY - dt.timedelta(days=1)
    long_ago = TODAY - dt.timedelta(days=grace + 1)
    async with db.session() as s:
        for cid, due in ((a, yesterday), (b, long_ago), (c, TODAY)):  # C is due today: not late yet
            child = await s.get(Child, cid)
            assert child is not None
            child.next_visit_due = due
        # Two more late children in A's community, and one whose file is closed (never alerted).
        more = []
        for seq, status in (("997", "active"), ("981", "active"), ("983", "closed")):
            extra = await add_child(s, settings, world.communities[0], world.streets[0], name="赵小刚", seq=seq)
            extra.next_visit_due, extra.status = yesterday, status
            more.append(extra.id)
    late_in_a = sorted([a, *more[:2]])

    assert await visit_alerts(db) == 3  # director, director2, supervisor
    got = await digests(db)
    director, director2, supervisor = world.users["director"], world.users["director2"], world.users["supervisor"]
    assert set(got) == {director, director2, supervisor}
    # One digest per director listing the count and the children's ids (no names).
    assert len(got[director]) == 1 and got[director][0]["count"] == 3
    assert got[director][0]["child_ids"] == late_in_a and got[director][0]["level"] == 1
    assert got[director2][0]["child_ids"] == [b]
    # The supervisor only hears of the child past the grace days.
    assert got[supervisor][0]["child_ids"] == [b] and got[supervisor][0]["level"] == 2
    steps = await ladder(db)
    assert steps == {
        *((cid, 1, visit_entity(yesterday)) for cid in late_in_a),
        (b, 1, visit_entity(long_ago)),
        (b, 2, visit_entity(long_ago)),
    }

    # Run again the same day: nothing new.
    assert await visit_alerts(db) == 0
    assert await ladder(db) == steps
    assert sum(len(v) for v in (await digests(db)).values()) == 3

    # Past A's grace days: the supervisor's digest names A's community's children too; A's ladder reaches level 2.
    frozen_clock(NOON + dt.timedelta(days=grace))
    assert await visit_alerts(db) == 4  # a new day: a new digest each, and C's director's first
    got = await digests(db)
    assert len(got[director]) == 2 and len(got[supervisor]) == 2
    assert got[supervisor][1]["child_ids"] == sorted([b, *late_in_a]) and got[supervisor][1]["count"] == 4
    assert world.users["director3"] in got  # C is now late too
    steps = await ladder(db)
    assert {(cid, 2, visit_entity(yesterday)) for cid in late_in_a} <= steps
    assert (c, 1, visit_entity(TODAY)) in steps
    async with db.session(write=False) as s:
        row = await s.scalar(
            select(Escalation).where(Escalation.child_id == a, Escalation.kind == "visit", Escalation.level == 2)
        )
        assert row is not None and row.recipients == [supervisor]
        assert row.due_at == dt.datetime.combine(
            yesterday + dt.timedelta(days=1 + grace), dt.time(), tzinfo=clock.DISTRICT_TZ
        )


async def test_a_visit_recorded_clears_the_alert_and_a_new_due_date_starts_a_new_ladder(
    db, world, cases: Cases, frozen_clock
) -> None:
    frozen_clock(NOON)
    a = cases.children["A"]
    first = TODAY - dt.timedelta(days=2)
    async with db.session() as s:
        for cid in cases.children.values():
            child = await s.get(Child, cid)
            assert child is not None
            child.next_visit_due = TODAY + dt.timedelta(days=30)
            if cid == a:
                child.next_visit_due = first
    assert await visit_alerts(db) == 1
    # Visited: due again in a month; nothing to alert.
    async with db.session() as s:
        child = await s.get(Child, a)
        assert child is not None
        child.next_visit_due = TODAY + dt.timedelta(days=5)
    frozen_clock(NOON + dt.timedelta(days=1))
    assert await visit_alerts(db) == 0
    # The new due date passes: a new step on a new ladder.
    frozen_clock(NOON + dt.timedelta(days=6))
    assert await visit_alerts(db) == 1
    assert {(cid, level, entity) for cid, level, entity in await ladder(db)} == {
        (a, 1, visit_entity(first)),
        (a, 1, visit_entity(TODAY + dt.timedelta(days=5))),
    }
