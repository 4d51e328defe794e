"""Deadlines by urgency and the escalation ladder (issue 13): an urgency-4 referral unanswered is the director's at
4 hours, the supervisor's at 8, the district's at 12; an urgency-1 one waits 72 hours; accepted and not started
climbs its own ladder from the acceptance."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from marketplace import clock
from marketplace.cases.models import Escalation, Need, Notification
from marketplace.referrals.jobs import escalate_overdue
from marketplace.referrals.models import Referral
from tests.cases.support import Cases, add_referral

H = dt.timedelta(hours=1)


def start() -> dt.datetime:
    """A whole minute just ahead of the machine's time (the fixtures' rows were written at the machine's time)."""
    return (clock.now() + dt.timedelta(minutes=2)).replace(second=0, microsecond=0)


async def set_referral(db, rid: int, *, urgency: int, **values: object) -> None:
    async with db.session() as s:
        r = await s.get(Referral, rid)
        assert r is not None
        need = await s.get(Need, r.need_id)
        assert need is not None
        need.urgency = urgency
        for k, v in values.items():
            setattr(r, k, v)


async def steps(db, rid: int) -> list[tuple[str, int, list[int]]]:
    async with db.session(write=False) as s:
        rows = await s.scalars(
            select(Escalation)
            .where(Escalation.entity == "referral", Escalation.entity_id == rid)
            .order_by(Escalation.kind, Escalation.level)
        )
        return [(e.kind, e.level, list(e.recipients)) for e in rows.all()]


async def notes(db, rid: int) -> list[Notification]:
    async with db.session(write=False) as s:
        rows = await s.scalars(
            select(Notification)
            .where(Notification.entity == "referral", Notification.entity_id == rid)
            .order_by(Notification.id)
        )
        return list(rows.all())


async def run_at(instant: dt.datetime, db) -> int:
    with clock.freeze(instant):
        return await escalate_overdue(db)


async def test_urgency_4_referral_climbs_director_supervisor_district(db, world, cases: Cases) -> None:
    t0 = start()
    a, c = cases.referrals["A"], cases.referrals["C"]
    await set_referral(db, a, urgency=4, sent_at=t0)
    await set_referral(db, c, urgency=1, sent_at=t0)  # the other street's, urgency 1: 72 hours to answer

    assert await run_at(t0 + 4 * H - dt.timedelta(minutes=1), db) == 0
    assert await steps(db, a) == []

    assert await run_at(t0 + 4 * H, db) == 1
    assert await steps(db, a) == [("accept", 1, [world.users["director"]])]
    told = await notes(db, a)
    assert {n.recipient_id for n in told} == {world.users["director"], world.users["org"]}  # provider reminded
    body = next(n.body for n in told if n.recipient_id == world.users["director"])
    assert f"转介 {a}" in body and "紧急程度 4" in body and "4 小时" in body and "时限" in body
    assert "张小明" not in body  # no child's name in a notification
    async with db.session(write=False) as s:
        r = await s.get(Referral, a)
        assert r is not None and r.escalation_level == 1 and r.escalated_at == t0 + 4 * H

    assert await run_at(t0 + 4 * H + dt.timedelta(minutes=15), db) == 0  # run again: nothing new
    assert len(await notes(db, a)) == 2

    assert await run_at(t0 + 8 * H, db) == 1
    assert [s[:2] for s in await steps(db, a)] == [("accept", 1), ("accept", 2)]
    assert (await steps(db, a))[1][2] == [world.users["supervisor"]]

    assert await run_at(t0 + 12 * H, db) == 1
    assert (await steps(db, a))[2] == ("accept", 3, [world.users["admin"]])
    assert await run_at(t0 + 12 * H, db) == 0
    assert await run_at(t0 + 40 * H, db) == 0  # the district is the top of the ladder
    async with db.session(write=False) as s:
        r = await s.get(Referral, a)
        assert r is not None and r.escalation_level == 3
    # Three steps, one notification each, plus the provider's one reminder: nobody told twice.
    assert len(await notes(db, a)) == 4

    # The urgency-1 referral sent at the same moment was not escalated at 4 hours (nor at 40).
    assert await steps(db, c) == []
    assert await run_at(t0 + 72 * H, db) == 1
    assert await steps(db, c) == [("accept", 1, [world.users["director3"]])]


async def test_a_late_run_takes_every_step_reached_at_once(db, world, cases: Cases) -> None:
    t0 = start()
    a = cases.referrals["A"]
    await set_referral(db, a, urgency=4, sent_at=t0)
    assert await run_at(t0 + 13 * H, db) == 3
    assert [s[:2] for s in await steps(db, a)] == [("accept", 1), ("accept", 2), ("accept", 3)]


async def test_accepted_not_started_climbs_its_first_contact_ladder(db, world, cases: Cases, settings) -> None:
    t0 = start()
    a, c = cases.referrals["A"], cases.referrals["C"]
    contact = settings.deadlines.first_contact_hours[4]
    assert contact == 24
    await set_referral(db, a, urgency=4, status="accepted", sent_at=t0 - H, accepted_at=t0)
    # Started in time: no first-contact ladder, whatever the time.
    await set_referral(db, c, urgency=4, status="in_service", sent_at=t0 - H, accepted_at=t0, started_at=t0 + H)

    assert await run_at(t0 + (contact - 1) * H, db) == 0
    assert await run_at(t0 + contact * H, db) == 1
    assert await steps(db, a) == [("first_contact", 1, [world.users["director"]])]
    assert await run_at(t0 + contact * H, db) == 0
    assert await run_at(t0 + 2 * contact * H, db) == 1
    assert [s[:2] for s in await steps(db, a)] == [("first_contact", 1), ("first_contact", 2)]
    assert await steps(db, c) == []
    kinds = {n.kind for n in await notes(db, a)}
    assert kinds == {"escalation_first_contact"}


async def test_first_contact_ladder_starts_afresh_after_a_late_acceptance(db, world, cases: Cases) -> None:
    t0 = start()
    a = cases.referrals["A"]
    await set_referral(db, a, urgency=4, sent_at=t0)
    await set_referral(db, cases.referrals["C"], urgency=1, sent_at=t0)  # not due within this test's hours
    assert await run_at(t0 + 9 * H, db) == 2  # director and supervisor told: still unanswered at 9 hours
    await set_referral(db, a, urgency=4, status="accepted", accepted_at=t0 + 9 * H)
    assert await run_at(t0 + 20 * H, db) == 0  # the acceptance ladder stops; the first contact is due at 33 h
    assert await run_at(t0 + 33 * H, db) == 1
    assert [s[:2] for s in await steps(db, a)] == [("accept", 1), ("accept", 2), ("first_contact", 1)]
    async with db.session(write=False) as s:
        r = await s.get(Referral, a)
        assert r is not None and r.escalation_level == 1


async def test_answered_referrals_never_escalate(db, world, cases: Cases) -> None:
    t0 = start()
    ids = []
    async with db.session() as s:
        need = await s.get(Need, cases.needs["B"])
        assert need is not None
        need.urgency = 4
        for status, extra in (
            ("declined", {"declined_at": t0 + H}),
            ("completed", {"accepted_at": t0 + H, "started_at": t0 + 2 * H, "completed_at": t0 + 3 * H}),
            ("closed", {"accepted_at": t0 + H, "started_at": t0 + 2 * H, "closed_at": t0 + 3 * H}),
            ("revoked", {"revoked_at": t0 + H}),
        ):
            r = await add_referral(s, need, world.services[0], world.orgs[0], status=status, sent_at=t0, **extra)
            ids.append(r.id)
    await set_referral(db, cases.referrals["A"], urgency=1, sent_at=t0)
    await set_referral(db, cases.referrals["C"], urgency=1, sent_at=t0)
    assert await run_at(t0 + 30 * 24 * H, db) == 6  # only the two sent ones, three steps each
    for rid in ids:
        assert await steps(db, rid) == []
        assert await notes(db, rid) == []


async def test_api_deadlines_follow_the_urgency(client, auth, db, world, cases: Cases, frozen_clock) -> None:
    t0 = start()
    a, c = cases.referrals["A"], cases.referrals["C"]
    await set_referral(db, a, urgency=4, sent_at=t0)
    await set_referral(db, c, urgency=1, sent_at=t0)
    frozen_clock(t0 + H)
    director, district, org = await auth("director"), await auth("admin"), await auth("org")

    def at(value: str) -> dt.datetime:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))

    ref = (await client.get(f"/api/v1/referrals/{a}", headers=director)).json()
    assert at(ref["response_due_at"]) == t0 + 4 * H
    assert ref["contact_due_at"] is None
    assert ref["escalation_level"] == 0 and ref["escalation_label"] == ""
    other = (await client.get(f"/api/v1/referrals/{c}", headers=district)).json()
    assert at(other["response_due_at"]) == t0 + 72 * H

    frozen_clock(t0 + 5 * H)
    assert await escalate_overdue(db) == 1
    ref = (await client.get(f"/api/v1/referrals/{a}", headers=director)).json()
    assert ref["escalation_level"] == 1 and ref["escalation_label"] == "已提醒儿童主任"

    assert (await client.post(f"/api/v1/referrals/{a}/accept", headers=org)).status_code == 200
    ref = (await client.get(f"/api/v1/referrals/{a}", headers=org)).json()
    assert at(ref["contact_due_at"]) == t0 + 5 * H + 24 * H  # urgency 4: first contact within 24 h


async def test_reports_count_overdue_by_urgency(client, auth, db, world, cases: Cases, frozen_clock) -> None:
    t0 = start()
    await set_referral(db, cases.referrals["A"], urgency=4, sent_at=t0)
    await set_referral(db, cases.referrals["C"], urgency=1, sent_at=t0)
    frozen_clock(t0 + 5 * H)  # past urgency 4's 4 hours, well within urgency 1's 72
    district = await auth("admin")
    late = (await client.get("/api/v1/reports/overdue", headers=district)).json()
    assert late["referrals_overdue"] == 1
    by_street = {s["street_id"]: s["referrals_overdue"] for s in late["streets"]}
    assert by_street == {world.streets[0]: 1, world.streets[1]: 0}
    assert (await client.get("/api/v1/reports/referrals", headers=district)).json()["overdue"] == 1
    frozen_clock(t0 + 73 * H)
    auditor = await auth("auditor")  # a token minted now (the district's has expired by then)
    assert (await client.get("/api/v1/reports/overdue", headers=auditor)).json()["referrals_overdue"] == 2
