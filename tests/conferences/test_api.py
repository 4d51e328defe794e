"""Case conferences through the API: convened, held with minutes and decisions, the decisions followed to done on the
child's timeline; the scope (an organization's participant sees its minimum), bad input and the reminder job."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select, update

from marketplace import clock
from marketplace.audit.models import AuditEntry
from marketplace.cases.models import Notification
from marketplace.conferences import jobs
from marketplace.conferences import service as conferences
from marketplace.conferences.models import Conference, Decision, DecisionRevision
from marketplace.db import Database
from marketplace.referrals.models import Referral
from tests.cases.support import Cases
from tests.conftest import assert_problem
from tests.support import figures
from tests.support.world import World

SUITE = "case conferences"


def _when(days: int = 2) -> str:
    return (clock.now() + dt.timedelta(days=days)).isoformat()


async def _serve(db: Database, cases: Cases) -> None:
    """Child A's referral to org (world.orgs[0]) is accepted: its staff may be invited."""
    async with db.session() as s:
        await s.execute(update(Referral).where(Referral.id == cases.referrals["A"]).values(status="accepted"))


async def _convene(client: Any, auth: Any, world: World, cases: Cases, who: str = "supervisor") -> dict[str, Any]:
    r = await client.post(
        f"/api/v1/children/{cases.children['A']}/conferences",
        json={
            "topic": "留守儿童近期情绪低落、多次缺课",
            "scheduled_at": _when(),
            "place": "福山社区党群服务中心",
            "participant_ids": [world.users["director"], world.users["org"]],
            "parties": [
                {"name": "陈老师", "organisation": "福田小学", "kind": "school", "contact": "0755-1234"},
                {"name": "刘警官", "organisation": "福田派出所", "kind": "police"},
            ],
        },
        headers=await auth(who),
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def _party(conf: dict[str, Any], kind: str) -> int:
    return next(p["id"] for p in conf["participants"] if p["kind"] == kind)


async def _hold(
    client: Any, auth: Any, world: World, conf: dict[str, Any], due: dt.date | None = None
) -> dict[str, Any]:
    due = due or clock.today() + dt.timedelta(days=7)
    r = await client.post(
        f"/api/v1/conferences/{conf['id']}/held",
        json={
            "minutes": "与会各方通报情况，商定由学校加强关注、社区入户核实监护情况。",
            "attendance": [
                {"participant_id": p["id"], "attended": p["kind"] != "police"} for p in conf["participants"]
            ],
            "decisions": [
                {
                    "text": "入户核实监护人外出务工情况",
                    "due_on": due.isoformat(),
                    "owner_user_id": world.users["director"],
                },
                {
                    "text": "派出所协助联系在外务工的父亲",
                    "due_on": due.isoformat(),
                    "owner_party_id": _party(conf, "police"),
                    "follow_up_by": world.users["supervisor"],
                },
                {"text": "机构安排心理疏导", "due_on": due.isoformat(), "owner_user_id": world.users["org"]},
            ],
        },
        headers=await auth("supervisor"),
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_convene_hold_and_follow_decisions_to_done(client, auth, world, cases, db):
    await _serve(db, cases)
    conf = await _convene(client, auth, world, cases)
    assert conf["status"] == "planned" and conf["view"] == "full" and conf["child_name"] == "张小明"
    kinds = sorted(p["kind"] for p in conf["participants"])
    assert kinds == ["internal", "internal", "internal", "police", "school"]  # the convener takes part
    held = await _hold(client, auth, world, conf)
    assert held["status"] == "held" and held["minutes"].startswith("与会各方")
    assert {p["kind"]: p["attended"] for p in held["participants"]}["police"] is False
    stages = {d["text"]: d["stage"] for d in held["decisions"]}
    assert stages["派出所协助联系在外务工的父亲"] == "intervention"
    assert stages["入户核实监护人外出务工情况"] == "assistance"

    # The director answers for hers: "my decisions", and marks it done.
    mine = (await client.get("/api/v1/me/decisions", headers=await auth("director"))).json()
    assert mine["total"] == 1 and mine["items"][0]["text"] == "入户核实监护人外出务工情况"
    did = mine["items"][0]["id"]
    r = await client.post(
        f"/api/v1/conferences/decisions/{did}/done",
        json={"note": "已入户，父亲在东莞务工"},
        headers=await auth("director"),
    )
    assert r.status_code == 200, r.text
    assert (await client.get("/api/v1/me/decisions", headers=await auth("director"))).json()["total"] == 0
    assert_problem(
        await client.post(
            f"/api/v1/conferences/decisions/{did}/done", json={"note": "再次"}, headers=await auth("director")
        ),
        409,
    )

    # The timeline tells the conference and its decisions.
    tl = (await client.get(f"/api/v1/children/{cases.children['A']}/timeline", headers=await auth("director"))).json()
    kinds_seen = [(e["kind"], e["stage"]) for e in tl["events"]]
    assert ("conference_convened", "assessment") in kinds_seen and ("conference_held", "assessment") in kinds_seen
    assert ("conference_decision_done", "assistance") in kinds_seen
    assert ("conference_decision", "intervention") in kinds_seen

    # The others settled: the conference closes.
    rest = [d for d in held["decisions"] if d["id"] != did]
    r = await client.post(
        f"/api/v1/conferences/decisions/{rest[0]['id']}/done",
        json={"note": "已联系到父亲"},
        headers=await auth("supervisor"),
    )
    assert r.status_code == 200 and r.json()["status"] == "held"
    r = await client.post(
        f"/api/v1/conferences/decisions/{rest[1]['id']}/cancel", json={"reason": "改由学校心理老师跟进"},
        headers=await auth("supervisor"),
    )  # fmt: skip
    assert r.status_code == 200 and r.json()["status"] == "closed"
    figures.record(SUITE, "decisions followed to done", 3)


async def test_scope_and_the_participants_minimum(client, auth, world, cases, db):
    await _serve(db, cases)
    conf = await _convene(client, auth, world, cases)
    held = await _hold(client, auth, world, conf)
    cid = conf["id"]
    tries = refused = 0
    for who in ("director2", "director3", "supervisor2", "org2", "fund", "procurement"):
        tries += 1
        r = await client.get(f"/api/v1/conferences/{cid}", headers=await auth(who))
        assert_problem(r, 404)
        refused += 1
        listed = await client.get("/api/v1/conferences", headers=await auth(who))
        assert listed.status_code == 200 and listed.json()["total"] == 0, who
    for who in ("director", "supervisor", "admin", "auditor"):
        body = (await client.get(f"/api/v1/conferences/{cid}", headers=await auth(who))).json()
        assert body["view"] == "full" and body["minutes"] and len(body["decisions"]) == 3
    # The organization's participant: the topic, the date, the share note and its own decision; nothing else.
    org = (await client.get(f"/api/v1/conferences/{cid}", headers=await auth("org"))).json()
    assert org["view"] == "participant" and org["share_note"] == "孩子喜欢画画"
    assert not {"minutes", "child_name", "participants", "community_id"} & set(org)
    assert [d["text"] for d in org["decisions"]] == ["机构安排心理疏导"]
    listed = (await client.get("/api/v1/conferences?mine=true", headers=await auth("org"))).json()
    assert listed["total"] == 1 and "minutes" not in listed["items"][0]
    # The organization marks its own done, not another's.
    own = org["decisions"][0]["id"]
    other = next(d["id"] for d in held["decisions"] if d["id"] != own)
    assert_problem(
        await client.post(f"/api/v1/conferences/decisions/{other}/done", json={"note": "x"}, headers=await auth("org")),
        404,
    )
    assert_problem(
        await client.post(f"/api/v1/conferences/{cid}/decisions", json={"text": "x", "due_on": clock.today().isoformat(),
                          "owner_user_id": world.users["org"]}, headers=await auth("org")),
        403,
    )  # fmt: skip
    r = await client.post(
        f"/api/v1/conferences/decisions/{own}/done", json={"note": "已安排首次辅导"}, headers=await auth("org")
    )
    assert r.status_code == 200 and r.json()["view"] == "participant"
    # The auditor reads but changes nothing; another street's supervisor cannot even see it.
    assert_problem(
        await client.post(
            f"/api/v1/conferences/decisions/{other}/done", json={"note": "x"}, headers=await auth("auditor")
        ),
        403,
    )
    assert_problem(
        await client.post(f"/api/v1/children/{cases.children['A']}/conferences", json={"topic": "x", "scheduled_at": _when()},
                          headers=await auth("supervisor2")),
        404,
    )  # fmt: skip
    # Every read is audited on the child.
    async with db.session(write=False) as s:
        reads = await s.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "read_conference")
        )
    assert reads and reads >= 5
    figures.record(SUITE, "cross-scope reads tried", tries)
    figures.record(SUITE, "cross-scope reads succeeded", tries - refused)


async def test_bad_input_changes_nothing(client, auth, world, cases, db):
    child = cases.children["A"]
    h = await auth("director")
    url = f"/api/v1/children/{child}/conferences"
    bad: list[tuple[dict[str, Any], int]] = [
        ({"topic": "x", "scheduled_at": _when(), "participant_ids": [world.users["director3"]]}, 422),
        ({"topic": "x", "scheduled_at": _when(), "participant_ids": [world.users["org"]]}, 422),  # not serving yet
        ({"topic": "x", "scheduled_at": _when(800)}, 422),
        ({"topic": " ", "scheduled_at": _when()}, 422),
        ({"topic": "x", "scheduled_at": _when(), "parties": [{"name": "a", "organisation": "b", "kind": "army"}]}, 400),
        ({"topic": "x", "scheduled_at": _when(), "extra": 1}, 400),
    ]
    for body, status in bad:
        r = await client.post(url, json=body, headers=h)
        assert r.status_code == status, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    async with db.session(write=False) as s:
        assert await s.scalar(select(func.count()).select_from(Conference)) == 0
    await _serve(db, cases)
    conf = await _convene(client, auth, world, cases, "director")
    cid = conf["id"]
    hold = f"/api/v1/conferences/{cid}/held"
    today = clock.today()
    decision_bad = [
        {"text": "x", "due_on": (today - dt.timedelta(days=1)).isoformat(), "owner_user_id": world.users["director"]},
        {"text": "x", "due_on": today.isoformat(), "owner_user_id": world.users["director2"]},
        {"text": "x", "due_on": today.isoformat(), "owner_party_id": _party(conf, "school")},  # nobody follows up
        {"text": "x", "due_on": today.isoformat()},
    ]
    for d in decision_bad:
        r = await client.post(hold, json={"minutes": "纪要", "decisions": [d]}, headers=h)
        assert_problem(r, 422)
    assert_problem(await client.post(hold, json={"minutes": "  "}, headers=h), 422)
    assert_problem(await client.post(f"/api/v1/conferences/{cid}/decisions", json=decision_bad[1], headers=h), 409)
    async with db.session(write=False) as s:
        c = await s.get(Conference, cid)
        assert c is not None and c.status == "planned" and c.minutes == ""
        assert await s.scalar(select(func.count()).select_from(Decision)) == 0
    assert (await client.post(hold, json={"minutes": "纪要"}, headers=h)).status_code == 201
    assert_problem(await client.post(hold, json={"minutes": "纪要"}, headers=h), 409)
    assert_problem(await client.post(f"/api/v1/conferences/{cid}/cancel", json={"reason": "x"}, headers=h), 409)
    assert_problem(await client.get("/api/v1/conferences/2147483647", headers=h), 404)
    assert_problem(await client.get("/api/v1/conferences?status=nope", headers=h), 400)
    figures.record(SUITE, "bad requests", len(bad) + len(decision_bad) + 4)


async def test_cancel_revise_and_filters(client, auth, world, cases, db):
    await _serve(db, cases)
    conf = await _convene(client, auth, world, cases, "director")
    other = await _convene(client, auth, world, cases, "director")
    h = await auth("director")
    r = await client.post(f"/api/v1/conferences/{other['id']}/cancel", json={"reason": "家长临时外出，改期"}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "cancelled" and r.json()["cancel_reason"]
    held = (
        await client.post(
            f"/api/v1/conferences/{conf['id']}/held",
            json={"minutes": "纪要", "decisions": [{"text": "联系学校", "due_on": clock.today().isoformat(),
                                                   "owner_user_id": world.users["director"]}]},
            headers=h,
        )
    ).json()  # fmt: skip
    did = held["decisions"][0]["id"]
    new_due = clock.today() + dt.timedelta(days=5)
    r = await client.post(
        f"/api/v1/conferences/decisions/{did}/revise",
        json={"reason": "学校放假，顺延", "due_on": new_due.isoformat(), "owner_user_id": world.users["org"]},
        headers=h,
    )
    assert r.status_code == 200, r.text
    d = r.json()["decisions"][0]
    assert d["due_on"] == new_due.isoformat() and d["responsible_id"] == world.users["org"]
    assert d["revisions"][0]["old_due_on"] == clock.today().isoformat()
    assert_problem(
        await client.post(f"/api/v1/conferences/decisions/{did}/revise", json={"reason": "同上"}, headers=h), 422
    )
    async with db.session(write=False) as s:
        assert await s.scalar(select(func.count()).select_from(DecisionRevision)) == 1
    q = "/api/v1/conferences"
    assert (await client.get(f"{q}?status=cancelled", headers=h)).json()["total"] == 1
    assert (await client.get(f"{q}?child_id={cases.children['A']}", headers=h)).json()["total"] == 2
    assert (await client.get(f"{q}?overdue=true", headers=h)).json()["total"] == 0
    assert (await client.get(f"{q}?mine=true", headers=await auth("director2"))).json()["total"] == 0


async def test_decisions_due_job_is_idempotent(client, auth, world, cases, db):
    await _serve(db, cases)
    conf = await _convene(client, auth, world, cases, "director")
    today = clock.today()
    r = await client.post(
        f"/api/v1/conferences/{conf['id']}/held",
        json={
            "minutes": "纪要",
            "decisions": [
                {
                    "text": "即将到期",
                    "due_on": (today + dt.timedelta(days=1)).isoformat(),
                    "owner_user_id": world.users["director"],
                },
                {"text": "将会逾期", "due_on": today.isoformat(), "owner_user_id": world.users["director"]},
                {
                    "text": "尚早",
                    "due_on": (today + dt.timedelta(days=20)).isoformat(),
                    "owner_user_id": world.users["director"],
                },
            ],
        },
        headers=await auth("director"),
    )
    assert r.status_code == 201, r.text
    # A day passes (the tokens would expire under a moved clock: the due dates move back instead).
    async with db.session() as s:
        for d in (await s.scalars(select(Decision))).all():
            d.due_on -= dt.timedelta(days=1)
    runs = [await jobs.decisions_due(db) for _ in range(3)]
    assert runs[0] == 3 and runs[1:] == [0, 0]  # due → director; overdue → supervisor + director
    async with db.session(write=False) as s:
        rows = (await s.scalars(select(Notification).where(Notification.kind.like("conference_decision_%")))).all()
    due = [n for n in rows if n.kind == "conference_decision_due"]
    late = [n for n in rows if n.kind == "conference_decision_overdue"]
    assert [n.recipient_id for n in due] == [world.users["director"]]
    assert sorted(n.recipient_id for n in late) == sorted([world.users["supervisor"], world.users["director"]])
    assert all(n.data["urgent"] for n in late) and not due[0].data.get("urgent")
    assert all("张小明" not in n.title + n.body for n in rows)  # no child's name leaves in a reminder
    # The overdue decision shows on the board and the timeline.
    assert (await client.get("/api/v1/conferences?overdue=true", headers=await auth("supervisor"))).json()["total"] == 1
    tl = await client.get(f"/api/v1/children/{cases.children['A']}/timeline", headers=await auth("director"))
    assert tl.status_code == 200, tl.text
    assert any(e["kind"] == "conference_decision_overdue" for e in tl.json()["events"])
    async with db.session() as s:
        assert await conferences.remind_decisions(s) == {"due": 0, "overdue": 0}
    figures.record(SUITE, "reminder job runs", len(runs) + 1)
    figures.record(SUITE, "reminders sent twice", 0 if runs[1:] == [0, 0] else 1)


async def test_a_purged_file_takes_its_conferences(client, auth, world, cases, db, settings):
    """The retention rule deletes a closed file's conferences with it (their minutes and decisions describe the
    child): no row of them is left, and nothing stops the file's deletion."""
    from marketplace.cases import retention
    from marketplace.cases.models import Child
    from marketplace.conferences.models import Participant

    await _serve(db, cases)
    conf = await _convene(client, auth, world, cases)
    await _hold(client, auth, world, conf)
    async with db.session() as s:
        child = await s.get(Child, cases.children["A"])
        assert child is not None
        child.status = "closed"
        child.closed_at = clock.now() - dt.timedelta(days=366 * (settings.retention_years + 1))
    async with db.session() as s:
        outcome = await retention.purge_file(s, settings, cases.children["A"])
    assert outcome.purged and outcome.counts["conferences"] == 1 and outcome.counts["conference_decisions"] == 3
    async with db.session(write=False) as s:
        for model in (Conference, Decision, Participant):
            assert await s.scalar(select(func.count()).select_from(model)) == 0
        left = await s.scalar(select(func.count()).select_from(Notification).where(Notification.entity == "conference"))
    assert left == 0


async def test_instants_at_the_calendars_ends_are_refused(client, auth, world, cases):
    h = await auth("director")
    for at in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "9999-12-31T23:59:59"):
        r = await client.post(
            f"/api/v1/children/{cases.children['A']}/conferences", json={"topic": "x", "scheduled_at": at}, headers=h
        )
        assert_problem(r, 422)
