"""The contact rule: no contact within the expected frequency + grace opens an alert for the community's directors,
twice that tells the street's supervisors (urgent), a contact resolves it; the daily job is idempotent."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from marketplace import clock
from marketplace.cases.models import Child, Notification
from marketplace.db import Database
from marketplace.families import jobs
from marketplace.families.models import ContactAlert, ParentAway
from marketplace.families.taxonomy import GRACE_DAYS, NOTIFICATION_KINDS
from tests.cases.support import Cases
from tests.conftest import assert_problem
from tests.families.test_api import add_parent
from tests.support import figures


async def silent_for(db: Database, parent_id: int, days: int) -> None:
    """The parent was recorded ``days`` ago and has not been in touch since."""
    async with db.session() as s:
        await s.execute(
            update(ParentAway)
            .where(ParentAway.id == parent_id)
            .values(tracked_from=clock.today() - dt.timedelta(days=days))
        )


async def notes(db: Database) -> list[Notification]:
    async with db.session(write=False) as s:
        rows = await s.scalars(
            select(Notification).where(Notification.kind.in_(NOTIFICATION_KINDS)).order_by(Notification.id)
        )
        return list(rows.all())


async def alerts(db: Database) -> list[ContactAlert]:
    async with db.session(write=False) as s:
        return list((await s.scalars(select(ContactAlert).order_by(ContactAlert.id))).all())


async def test_alert_climbs_and_resolves_and_the_job_is_idempotent(client, auth, cases: Cases, db, world) -> None:
    child = cases.children["A"]
    weekly = await add_parent(client, auth, child)  # 7 days + grace
    monthly = await add_parent(client, auth, child, relation="mother", frequency="monthly")
    allowed = 7 + GRACE_DAYS
    # Within the allowance: nothing.
    await silent_for(db, weekly["id"], allowed)
    await silent_for(db, monthly["id"], allowed + 1)
    runs = 0
    assert await jobs.contact_check(db) == 0
    runs += 1
    assert await alerts(db) == [] and await notes(db) == []
    # One day past it: an alert and the community's director told; the mother (monthly) is still within hers.
    await silent_for(db, weekly["id"], allowed + 1)
    assert await jobs.contact_check(db) == 1
    runs += 1
    [alert] = await alerts(db)
    assert alert.status == "open" and alert.level == 1 and alert.parent_id == weekly["id"]
    told = await notes(db)
    assert [(n.kind, n.recipient_id) for n in told] == [("families_contact_lost", world.users["director"])]
    assert "张小明" not in told[0].body + told[0].title and "13812345678" not in told[0].body
    assert not told[0].data.get("urgent")
    # Twice the allowance: the street's supervisor, urgently; the directors not told again.
    await silent_for(db, weekly["id"], 2 * allowed + 1)
    # (the same silence: the alert is keyed on its first day, which moved with tracked_from in this test)
    async with db.session() as s:
        await s.execute(
            update(ContactAlert)
            .where(ContactAlert.id == alert.id)
            .values(silent_since=clock.today() - dt.timedelta(days=2 * allowed + 1))
        )
    for _ in range(3):
        await jobs.contact_check(db)
        runs += 1
    [alert] = await alerts(db)
    assert alert.level == 2 and alert.escalated_at is not None
    told = await notes(db)
    assert sorted((n.kind, n.recipient_id) for n in told) == [
        ("families_contact_lost", world.users["director"]),
        ("families_contact_lost_escalated", world.users["supervisor"]),
    ]
    assert [n.data.get("urgent") for n in told if n.kind.endswith("escalated")] == [True]
    # The alerts list: the director's community, the supervisor's street, the district; nobody else.
    for who, seen in (("director", 1), ("supervisor", 1), ("admin", 1), ("director2", 0), ("supervisor2", 0)):
        r = await client.get("/api/v1/families/alerts", headers=await auth(who))
        assert r.status_code == 200 and r.json()["total"] == seen, (who, r.text)
    item = (await client.get("/api/v1/families/alerts", headers=await auth("director"))).json()["items"][0]
    assert item["child_name"] == "张小明" and item["level_label"] == "已升级至街道督导员"
    assert item["work_place"] == "广东省 东莞市" and item["days_silent"] == 2 * allowed + 1
    other = world.communities[1]
    r = await client.get(f"/api/v1/families/alerts?community_id={other}", headers=await auth("admin"))
    assert r.json()["total"] == 0
    assert_problem(await client.get("/api/v1/families/alerts?status=lost", headers=await auth("admin")), 400)
    # A contact recorded: resolved at once, off the open list; the job leaves it so.
    r = await client.post(
        f"/api/v1/families/parents/{weekly['id']}/contacts",
        json={"contacted_on": clock.today().isoformat(), "channel": "phone"},
        headers=await auth("director"),
    )
    assert r.status_code == 201
    [alert] = await alerts(db)
    assert alert.status == "resolved" and alert.resolved_by == "contact"
    assert (await client.get("/api/v1/families/alerts", headers=await auth("director"))).json()["total"] == 0
    resolved = await client.get("/api/v1/families/alerts?status=resolved", headers=await auth("director"))
    assert resolved.json()["total"] == 1
    assert await jobs.contact_check(db) == 0
    runs += 1
    assert len(await notes(db)) == 2 and len(await alerts(db)) == 1
    timeline = (await client.get(f"/api/v1/children/{child}/timeline", headers=await auth("director"))).json()
    kinds = [e["kind"] for e in timeline["events"]]
    for kind in ("families_contact_lost", "families_contact_lost_escalated", "families_contact_restored"):
        assert kind in kinds
    assert all(e["stage"] == "monitoring" for e in timeline["events"] if e["kind"].startswith("families_"))
    figures.record("families contact rule", "job runs", runs)
    figures.record("families contact rule", "duplicate notifications", len(await notes(db)) - 2)


async def test_a_parent_back_home_or_a_closed_file_is_not_alerted(client, auth, cases: Cases, db) -> None:
    child = cases.children["A"]
    parent = await add_parent(client, auth, child)
    await silent_for(db, parent["id"], 40)
    assert await jobs.contact_check(db) == 2  # opened and escalated at once
    r = await client.post(
        f"/api/v1/families/parents/{parent['id']}",
        json={"returned_on": clock.today().isoformat()},
        headers=await auth("director"),
    )
    assert r.status_code == 201, r.text
    assert r.json()["contact_due_on"] is None and r.json()["alert_id"] is None
    [alert] = await alerts(db)
    assert alert.status == "resolved" and alert.resolved_by == "returned"
    assert await jobs.contact_check(db) == 0
    # Leaving again: the rule counts from that day.
    r = await client.post(
        f"/api/v1/families/parents/{r.json()['id']}", json={"returned_on": None}, headers=await auth("director")
    )
    assert (
        r.status_code == 201
        and r.json()["contact_due_on"] == (clock.today() + dt.timedelta(days=7 + GRACE_DAYS)).isoformat()
    )
    assert await jobs.contact_check(db) == 0


async def test_a_closed_file_or_a_new_frequency_resolves_the_alert(client, auth, cases: Cases, db) -> None:
    child = cases.children["A"]
    weekly = await add_parent(client, auth, child)
    other = await add_parent(client, auth, child, relation="mother")
    await silent_for(db, weekly["id"], 20)
    await silent_for(db, other["id"], 20)
    assert await jobs.contact_check(db) == 2
    # The mother is expected monthly from now on: 20 days are within 31 + 7.
    r = await client.post(
        f"/api/v1/families/parents/{other['id']}", json={"frequency": "monthly"}, headers=await auth("director")
    )
    assert r.status_code == 201
    assert await jobs.contact_check(db) == 0
    by = {a.parent_id: a for a in await alerts(db)}
    assert by[other["id"]].status == "resolved" and by[other["id"]].resolved_by == "rule"
    assert by[weekly["id"]].status == "open"
    # The file is closed: nothing is expected any more.
    async with db.session() as s:
        await s.execute(update(Child).where(Child.id == child).values(status="closed"))
    assert await jobs.contact_check(db) == 0
    by = {a.parent_id: a for a in await alerts(db)}
    assert by[weekly["id"]].status == "resolved" and by[weekly["id"]].resolved_by == "closed"
    r = await client.post(
        f"/api/v1/families/parents/{weekly['id']}/contacts",
        json={"contacted_on": clock.today().isoformat(), "channel": "phone"},
        headers=await auth("director"),
    )
    assert_problem(r, 409)
