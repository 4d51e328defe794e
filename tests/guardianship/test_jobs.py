"""``guardianship.reviews``: reminders 30 and 7 days before an entrusted guardianship's review, lapsing after it
(urgent, to the director and the supervisor); once each however often it runs."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, func, select

from marketplace import clock
from marketplace.cases.models import Child, Notification
from marketplace.guardianship import jobs
from marketplace.guardianship.models import EntrustedGuardianship, GuardianshipAssessment, TemporaryGuardianship
from tests.cases.support import Cases, add_child
from tests.support import figures

pytestmark = pytest.mark.clock_sensitive


async def entrusted(db, child_id: int, review_in_days: int) -> int:
    review_on = clock.today() + dt.timedelta(days=review_in_days)
    async with db.session() as s:
        e = EntrustedGuardianship(
            child_id=child_id,
            person_name="陈秀英",
            relationship="外祖母",
            contact_phone="13800138000",
            signed_on=review_on - dt.timedelta(days=365),
            review_on=review_on,
            status="active",
        )
        s.add(e)
        await s.flush()
        return e.id


async def notes(db) -> list[Notification]:
    async with db.session(write=False) as s:
        return list((await s.scalars(select(Notification).order_by(Notification.id))).all())


async def test_reviews_remind_then_lapse_once_each(db, world, cases: Cases) -> None:
    director, director2 = world.users["director"], world.users["director2"]
    supervisor = world.users["supervisor"]
    far = await entrusted(db, cases.children["A"], 45)
    month = await entrusted(db, cases.children["A"], 20)
    week = await entrusted(db, cases.children["B"], 7)
    today = await entrusted(db, cases.children["B"], 0)
    past = await entrusted(db, cases.children["C"], -1)

    written = await jobs.reviews(db)
    got = await notes(db)
    by = {(n.data.get("entrusted_id"), n.recipient_id): n for n in got}
    assert (far, director) not in by
    assert by[(month, director)].kind == "guardianship_review_due" and by[(month, director)].data["days_before"] == 30
    assert by[(week, director2)].data["days_before"] == 7 and by[(today, director2)].data["days_before"] == 7
    assert not any(n.data.get("urgent") for n in got if n.kind == "guardianship_review_due")
    lapsed = [n for n in got if n.kind == "guardianship_lapsed"]
    assert {n.recipient_id for n in lapsed} == {world.users["director3"], world.users["supervisor2"]}
    assert all(n.data["urgent"] is True and n.entity == "child" for n in lapsed)
    assert supervisor not in {n.recipient_id for n in got}
    assert written == len(got) == 5
    # No child's name, no phone in what leaves for people.
    for n in got:
        assert "张小明" not in n.title + n.body and "13800138000" not in n.title + n.body
    async with db.session(write=False) as s:
        statuses = {e.id: e.status for e in (await s.scalars(select(EntrustedGuardianship))).all()}
    assert statuses == {far: "active", month: "active", week: "active", today: "active", past: "lapsed"}

    assert await jobs.reviews(db) == 0
    assert len(await notes(db)) == 5
    # Three weeks on, the one 20 days out gets its 7-day reminder, once.
    with clock.travel(clock.now() + dt.timedelta(days=14)):
        assert await jobs.reviews(db) >= 1
        again = await jobs.reviews(db)
    assert again == 0
    keys = [n.key for n in await notes(db) if n.data.get("entrusted_id") == month]
    assert len(keys) == len(set(keys)) == 2
    figures.record("guardianship reviews", "job runs", 4)
    figures.record("guardianship reviews", "duplicate notifications", 0)


async def test_the_records_go_with_the_file(db, world) -> None:
    """The retention rule deletes a child's file; its guardianship records follow (ON DELETE CASCADE)."""
    async with db.session() as s:
        kid = await add_child(s, db.settings, world.communities[2], world.streets[1], name="赵小雨", seq="997")
        child = kid.id
    await entrusted(db, child, 10)
    async with db.session() as s:
        a = GuardianshipAssessment(
            child_id=child,
            instrument_code="GA",
            instrument_version=1,
            answers={},
            domain_scores={},
            score=90,
            result="good",
            recommended="family",
            assessed_on=clock.today(),
        )
        s.add(a)
        await s.flush()
        s.add(
            TemporaryGuardianship(
                child_id=child,
                institution="救助站",
                reason="x",
                started_on=clock.today(),
                status="ended",
                assessment_id=a.id,
                outcome="returned_home",
            )
        )
    async with db.session() as s:
        await s.execute(delete(Child).where(Child.id == child))
    async with db.session(write=False) as s:
        for model in (EntrustedGuardianship, GuardianshipAssessment, TemporaryGuardianship):
            assert await s.scalar(select(func.count()).select_from(model)) == 0
