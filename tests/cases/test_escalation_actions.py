"""Issue #15: the street's supervisor (or the district) acts on an escalation step: acknowledges it with what happens
next, reminds the one responsible, reassigns an overdue visit to another director of the street; a step whose cause
is gone (visit recorded, referral answered) resolves itself and takes no more actions. Everyone else: 404."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from marketplace import clock
from marketplace.audit.models import AuditEntry
from marketplace.cases.jobs import overdue_from, visit_entity
from marketplace.cases.models import Child, ChildTransfer, Escalation, Notification
from marketplace.referrals.models import Referral
from tests.cases.support import Cases
from tests.conftest import assert_problem

OTHERS = ("supervisor2", "director", "director2", "director3", "org", "auditor", "fund")


async def overdue_visit_step(db, child_id: int, *, days: int = 10, level: int = 2) -> int:
    """The child's visit was due ``days`` ago and the ladder took it to ``level``."""
    due = clock.today() - dt.timedelta(days=days)
    async with db.session() as s:
        child = await s.get(Child, child_id)
        assert child is not None
        child.next_visit_due = due
        e = Escalation(
            entity=visit_entity(due),
            entity_id=child_id,
            kind="visit",
            level=level,
            due_at=overdue_from(due, 3),
            child_id=child_id,
            recipients=[],
        )
        s.add(e)
        await s.flush()
        return e.id


async def referral_step(db, referral_id: int, child_id: int, *, kind: str = "accept", level: int = 2) -> int:
    async with db.session() as s:
        e = Escalation(
            entity="referral",
            entity_id=referral_id,
            kind=kind,
            level=level,
            due_at=clock.now() - dt.timedelta(hours=1),
            child_id=child_id,
            recipients=[],
        )
        s.add(e)
        await s.flush()
        return e.id


async def notes_of(db, user_id: int, kind: str) -> list[Notification]:
    async with db.session(write=False) as s:
        rows = await s.scalars(
            select(Notification)
            .where(Notification.recipient_id == user_id, Notification.kind == kind)
            .order_by(Notification.id)
        )
        return list(rows.all())


async def test_only_the_street_supervisor_and_the_district_see_and_act(client, auth, db, world, cases: Cases) -> None:
    b = cases.children["B"]
    step = await overdue_visit_step(db, b)
    low = await overdue_visit_step(db, cases.children["A"], level=1)  # the director's step: not the supervisor's
    for who in OTHERS:
        h = await auth(who)
        assert_problem(await client.get(f"/api/v1/escalations/{step}", headers=h), 404)
        for action, body in (
            ("acknowledge", {"note": "已阅"}),
            ("remind", {}),
            ("reassign", {"director_id": 1, "note": "x"}),
        ):
            assert_problem(await client.post(f"/api/v1/escalations/{step}/{action}", json=body, headers=h), 404)
        assert_problem(await client.get(f"/api/v1/escalations/{step}/directors", headers=h), 404)
    assert_problem(await client.get("/api/v1/escalations", headers=await auth("director2")), 403)
    assert_problem(await client.get(f"/api/v1/escalations/{low}", headers=await auth("supervisor")), 404)
    async with db.session(write=False) as s:
        assert not (await s.scalars(select(Notification).where(Notification.kind.like("escalation_%")))).all()

    listed = (await client.get("/api/v1/escalations", headers=await auth("supervisor"))).json()
    assert [e["id"] for e in listed["items"]] == [step] and listed["total"] == 1
    item = listed["items"][0]
    assert item["open"] is True and item["child_id"] == b and item["child_name"] == "李小红"
    assert item["allowed_actions"] == ["acknowledge", "remind", "reassign"] and item["actions"] == []
    assert {
        e["id"] for e in (await client.get("/api/v1/escalations", headers=await auth("admin"))).json()["items"]
    } == {
        step,
        low,
    }
    assert (await client.get("/api/v1/escalations", headers=await auth("supervisor2"))).json()["total"] == 0
    # Naming the child in the list is a read of the file.
    async with db.session(write=False) as s:
        assert await s.scalar(
            select(AuditEntry.id).where(
                AuditEntry.username == "supervisor", AuditEntry.entity == "child", AuditEntry.entity_id == b
            )
        )


async def test_acknowledge_with_a_note_shows_who_and_when(client, auth, db, world, cases: Cases) -> None:
    step = await overdue_visit_step(db, cases.children["B"])
    h = await auth("supervisor")
    assert_problem(await client.post(f"/api/v1/escalations/{step}/acknowledge", json={"note": ""}, headers=h), 400)
    assert_problem(await client.post(f"/api/v1/escalations/{step}/acknowledge", json={"note": "   "}, headers=h), 422)
    assert_problem(
        await client.post(f"/api/v1/escalations/{step}/acknowledge", json={"note": "x", "extra": 1}, headers=h), 400
    )
    assert (await client.get(f"/api/v1/escalations/{step}", headers=h)).json()["actions"] == []
    r = await client.post(f"/api/v1/escalations/{step}/acknowledge", json={"note": "周五前由社区主任上门"}, headers=h)
    assert r.status_code == 200, r.text
    (ack,) = r.json()["actions"]
    assert ack["action"] == "acknowledge" and ack["note"] == "周五前由社区主任上门"
    assert ack["actor_id"] == world.users["supervisor"] and ack["actor_name"] == "supervisor" and ack["created_at"]
    assert r.json()["open"] is True  # seen is not done: it stays on the board until the visit is recorded
    async with db.session(write=False) as s:
        row = await s.scalar(select(AuditEntry).where(AuditEntry.action == "escalation_acknowledge"))
        assert row is not None and row.entity_id == cases.children["B"] and row.detail["escalation_id"] == step


async def test_remind_the_director_of_a_visit_and_the_provider_of_a_referral(
    client, auth, db, world, cases: Cases
) -> None:
    b, a = cases.children["B"], cases.children["A"]
    visit = await overdue_visit_step(db, b)
    h = await auth("supervisor")
    r = await client.post(f"/api/v1/escalations/{visit}/remind", json={"note": "请本周内走访"}, headers=h)
    assert r.status_code == 200, r.text
    assert [x["action"] for x in r.json()["actions"]] == ["remind"]
    (note,) = await notes_of(db, world.users["director2"], "escalation_remind")
    assert note.entity == "child" and note.entity_id == b and "李小红" in note.title and "请本周内走访" in note.body
    assert not await notes_of(db, world.users["director"], "escalation_remind")  # A's director is not B's
    # The director sees it, unread, through the API.
    mine = (await client.get("/api/v1/notifications?unread=true", headers=await auth("director2"))).json()
    assert [n["id"] for n in mine["items"]] == [note.id] and mine["unread"] == 1
    # A second tap a moment later is refused and tells nobody twice.
    assert_problem(await client.post(f"/api/v1/escalations/{visit}/remind", json={}, headers=h), 409)
    assert len(await notes_of(db, world.users["director2"], "escalation_remind")) == 1

    referral = await referral_step(db, cases.referrals["A"], a)
    r = await client.post(f"/api/v1/escalations/{referral}/remind", headers=h)
    assert r.status_code == 200, r.text
    (org_note,) = await notes_of(db, world.users["org"], "escalation_remind")
    assert org_note.entity == "referral" and org_note.entity_id == cases.referrals["A"]
    assert "张小明" not in org_note.title + org_note.body  # the provider is not told the child's name here
    assert not await notes_of(db, world.users["org2"], "escalation_remind")
    listed = (await client.get("/api/v1/notifications", headers=await auth("org"))).json()
    assert org_note.id in [n["id"] for n in listed["items"]]

    # A report is acknowledged, not reminded; a referral is not reassigned.
    assert_problem(
        await client.post(f"/api/v1/escalations/{referral}/reassign", json={"director_id": 1, "note": "x"}, headers=h),
        409,
    )


async def test_reassign_an_overdue_visit_to_a_director_of_another_community_moves_the_file(
    client, auth, db, world, cases: Cases
) -> None:
    b = cases.children["B"]  # 岗厦 (director2), street 福田
    step = await overdue_visit_step(db, b)
    h = await auth("supervisor")
    options = (await client.get(f"/api/v1/escalations/{step}/directors", headers=h)).json()
    assert {o["id"] for o in options} == {world.users["director"], world.users["director2"]}
    # A director of another street, an organization's account, a missing note: refused, nothing changes.
    for body, status in (
        ({"director_id": world.users["director3"], "note": "改派"}, 422),
        ({"director_id": world.users["org"], "note": "改派"}, 422),
        ({"director_id": 2_147_483_647, "note": "改派"}, 422),
        ({"director_id": world.users["director"], "note": ""}, 400),
        ({"director_id": 0, "note": "改派"}, 400),
    ):
        assert_problem(await client.post(f"/api/v1/escalations/{step}/reassign", json=body, headers=h), status)
    async with db.session(write=False) as s:
        assert (await s.get(Child, b)).community_id == world.communities[1]  # type: ignore[union-attr]
    assert_problem(await client.get(f"/api/v1/children/{b}", headers=await auth("director")), 404)

    r = await client.post(
        f"/api/v1/escalations/{step}/reassign",
        json={"director_id": world.users["director"], "note": "岗厦主任病假，由福山主任代为走访"},
        headers=h,
    )
    assert r.status_code == 200, r.text
    (act,) = r.json()["actions"]
    assert (
        act["action"] == "reassign" and act["target_id"] == world.users["director"] and act["target_name"] == "director"
    )
    async with db.session(write=False) as s:
        child = await s.get(Child, b)
        assert child is not None and child.community_id == world.communities[0]
        t = await s.scalar(select(ChildTransfer).where(ChildTransfer.child_id == b))
        assert t is not None and t.status == "approved" and t.decided_by == world.users["supervisor"]
        # The open need and its referral follow the file.
        moved = await s.scalars(select(Referral).where(Referral.child_id == b))
        assert all(x.community_id == world.communities[0] for x in moved.all())
        audit = {a.action for a in (await s.scalars(select(AuditEntry).where(AuditEntry.entity_id == b))).all()}
        assert {"transfer", "escalation_reassign"} <= audit
    (note,) = await notes_of(db, world.users["director"], "escalation_reassign")
    assert note.entity_id == b and "李小红" in note.title
    # The new director reads the file and the step stays open until they record the visit.
    assert (await client.get(f"/api/v1/children/{b}", headers=await auth("director"))).status_code == 200
    assert r.json()["open"] is True
    # The child's timeline shows the step and the reassignment, with who did it, to whom and why.
    timeline = (await client.get(f"/api/v1/children/{b}/timeline", headers=await auth("director"))).json()
    (event,) = [e for e in timeline["events"] if e["kind"] == "escalation_reassign"]
    assert event["stage"] == "monitoring" and event["title"] == "走访逾期：已改派"
    assert event["detail"] == "supervisor；改派给 director；岗厦主任病假，由福山主任代为走访"
    # A later reminder goes to the director the visit was given to.
    assert (await client.post(f"/api/v1/escalations/{step}/remind", headers=await auth("admin"))).status_code == 200
    assert len(await notes_of(db, world.users["director"], "escalation_remind")) == 1
    assert not await notes_of(db, world.users["director2"], "escalation_remind")


async def test_reassign_within_the_community_assigns_without_moving(client, auth, db, world, cases: Cases) -> None:
    b = cases.children["B"]
    step = await overdue_visit_step(db, b)
    r = await client.post(
        f"/api/v1/escalations/{step}/reassign",
        json={"director_id": world.users["director2"], "note": "请本人于明日走访"},
        headers=await auth("admin"),
    )
    assert r.status_code == 200, r.text
    async with db.session(write=False) as s:
        assert (await s.get(Child, b)).community_id == world.communities[1]  # type: ignore[union-attr]
        assert await s.scalar(select(ChildTransfer.id).where(ChildTransfer.child_id == b)) is None
    assert len(await notes_of(db, world.users["director2"], "escalation_reassign")) == 1


async def test_a_recorded_visit_or_an_answered_referral_resolves_the_step(
    client, auth, db, world, cases: Cases
) -> None:
    b, a = cases.children["B"], cases.children["A"]
    visit = await overdue_visit_step(db, b)
    referral = await referral_step(db, cases.referrals["A"], a)
    h = await auth("supervisor")
    assert {e["id"] for e in (await client.get("/api/v1/escalations", headers=h)).json()["items"]} == {visit, referral}

    r = await client.post(
        f"/api/v1/children/{b}/visits",
        json={"visited_on": clock.today().isoformat(), "kind": "home", "findings": "一切正常"},
        headers=await auth("director2"),
    )
    assert r.status_code in (200, 201), r.text
    async with db.session() as s:
        ref = await s.get(Referral, cases.referrals["A"])
        assert ref is not None
        ref.status, ref.accepted_at = "accepted", clock.now()

    assert (await client.get("/api/v1/escalations", headers=h)).json() == {"items": [], "total": 0}
    every = (await client.get("/api/v1/escalations?open=false", headers=h)).json()
    assert {e["id"] for e in every["items"]} == {visit, referral}
    assert all(e["open"] is False and e["allowed_actions"] == [] for e in every["items"])
    for step in (visit, referral):
        for action, body in (("acknowledge", {"note": "已阅"}), ("remind", {})):
            body_ = assert_problem(await client.post(f"/api/v1/escalations/{step}/{action}", json=body, headers=h), 409)
            assert body_.get("code") in (None, "escalation_resolved")
    # A first-contact step of the same referral is open while it is accepted and not started.
    first = await referral_step(db, cases.referrals["A"], a, kind="first_contact")
    assert [e["id"] for e in (await client.get("/api/v1/escalations", headers=h)).json()["items"]] == [first]
