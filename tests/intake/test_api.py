"""Hotline calls and public reports (来电与群众反映): taken in scope, routed to the community's directors with a
deadline by urgency, triaged once into a mandatory report, a need, a new file or no action, escalated when late;
bad input refused with a problem and nothing changed; the issue's journey on one timeline."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select, text

from marketplace import clock
from marketplace.audit.models import AuditEntry
from marketplace.auth.models import User
from marketplace.cases.models import Child, MandatoryReport, Need, Notification
from marketplace.intake.jobs import overdue
from marketplace.intake.models import Intake, IntakeTriage
from marketplace.tasks import JOBS
from tests.cases.support import Cases, birth_for_age, id_number
from tests.conftest import assert_problem
from tests.support import figures

PATH = "/api/v1/intakes"


def call(world: Any, **kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "channel": "hotline_12355",
        "what": "来电称一名男孩连续两晚独自在公园长椅过夜，父母联系不上",
        "urgency": 3,
        "community_id": world.communities[0],
        "caller_name": "陈女士",
        "caller_phone": "13712345678",
        "caller_relation": "邻居",
        "place": "福山社区荔枝公园北门",
        "subject_name": "小军",
        "subject_description": "男孩，约8岁，穿蓝色校服",
    }
    body.update(kw)
    return body


def new_file(world: Any, name: str = "刘小军", seq: str = "971") -> dict[str, Any]:
    birth = birth_for_age(8)
    return {
        "community_id": world.communities[0],
        "name": name,
        "gender": "male",
        "birth_date": birth.isoformat(),
        "id_number": id_number(birth, seq),
        "categories": ["left_behind"],
        "guardianship": "family",
        "risk_level": "high",
    }


async def count(db: Any, model: Any, *where: Any) -> int:
    async with db.session(write=False) as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_call_about_unidentified_child_becomes_report_then_file_on_one_timeline(
    client, auth, cases: Cases, db, world
) -> None:
    # The district takes a 12355 call about a child nobody has a file for.
    r = await client.post(PATH, json=call(world), headers=await auth("admin"))
    assert r.status_code == 201, r.text
    intake = r.json()
    iid = intake["id"]
    assert intake["status"] == "new" and intake["street_id"] == world.streets[0]
    assert intake["recorder_role"] == "district_admin" and intake["channel_label"] == "12355青少年服务热线"
    assert intake["notified_user_ids"] == [world.users["director"]]
    due = dt.datetime.fromisoformat(intake["due_at"]) - dt.datetime.fromisoformat(intake["received_at"])
    assert due == dt.timedelta(hours=12)  # 紧急

    # The community's director is told at once (urgent), without the child's name or the place.
    notes = (await client.get("/api/v1/notifications", headers=await auth("director"))).json()["items"]
    assert [n["kind"] for n in notes] == ["intake_routed"]
    assert notes[0]["entity_id"] == iid
    async with db.session(write=False) as s:
        note = await s.scalar(select(Notification).where(Notification.kind == "intake_routed"))
        assert note is not None and note.data["urgent"] is True
    for word in ("小军", "荔枝公园", "13712345678", "陈女士"):
        assert word not in notes[0]["body"] and word not in notes[0]["title"]
    assert (await client.get("/api/v1/notifications", headers=await auth("director2"))).json()["total"] == 0

    # What was said is encrypted at rest: the caller, the child, the place.
    async with db.session(write=False) as s:
        raw = (
            await s.execute(
                text("SELECT caller_name, caller_phone, what, place, subject_name, subject_description FROM intakes")
            )
        ).one()
    for stored, said in zip(raw, ("陈女士", "13712345678", "公园长椅", "荔枝公园", "小军", "蓝色校服"), strict=True):
        assert said not in stored

    # The director triages it into a mandatory report about the unidentified child.
    r = await client.post(
        f"{PATH}/{iid}/triage",
        json={"outcome": "mandatory_report", "report_kind": "lives_alone", "police_notified": True},
        headers=await auth("director"),
    )
    assert r.status_code == 200, r.text
    triaged = r.json()
    assert triaged["status"] == "triaged" and triaged["outcome"] == "mandatory_report"
    rid = triaged["report_id"]
    assert rid and triaged["child_id"] is None
    report = (await client.get(f"/api/v1/mandatory-reports/{rid}", headers=await auth("director"))).json()
    assert report["subject_name"] == "小军" and report["place"] == "福山社区荔枝公园北门"
    assert report["child_id"] is None and report["police_notified"] is True

    # A triage is not changed in place.
    r = await client.post(
        f"{PATH}/{iid}/triage", json={"outcome": "no_action", "reason": "重复来电"}, headers=await auth("director")
    )
    assert_problem(r, 409)

    # The director opens the child's file from it: the report is linked to the new file.
    r = await client.post(
        f"{PATH}/{iid}/triage", json={"outcome": "new_file", "child": new_file(world)}, headers=await auth("director")
    )
    assert r.status_code == 200, r.text
    done = r.json()
    child_id = done["child_id"]
    assert child_id and done["outcome"] == "mandatory_report"
    assert [t["outcome"] for t in done["triages"]] == ["mandatory_report", "new_file"]
    report = (await client.get(f"/api/v1/mandatory-reports/{rid}", headers=await auth("director"))).json()
    assert report["child_id"] == child_id and report["need_id"] is not None
    assert done["need_id"] == report["need_id"]

    # One timeline: the call, the report, the file's emergency need, in the report stage first.
    r = await client.get(f"/api/v1/children/{child_id}/timeline", headers=await auth("director"))
    assert r.status_code == 200, r.text
    events = r.json()["events"]
    kinds = [e["kind"] for e in events]
    assert "intake_received" in kinds and "intake_triaged" in kinds and "report" in kinds and "need_opened" in kinds
    received = next(e for e in events if e["kind"] == "intake_received")
    assert received["title"] == "12355热线来电" and received["stage"] == "report"
    body = r.text
    assert "13712345678" not in body and "陈女士" not in body
    assert kinds.index("intake_received") < kinds.index("report")

    # Once more: the file is given, nothing more to link.
    r = await client.post(
        f"{PATH}/{iid}/triage", json={"outcome": "link_file", "child_id": child_id}, headers=await auth("director")
    )
    assert_problem(r, 409)


async def test_triage_outcomes_need_file_and_no_action(client, auth, cases: Cases, db, world) -> None:
    a = cases.children["A"]
    # A school reports about a filed child: the director records a need on the file.
    r = await client.post(
        PATH,
        json=call(world, channel="school", urgency=2, child_id=a, subject_name="", subject_description="", place=""),
        headers=await auth("director"),
    )
    assert r.status_code == 201, r.text
    iid = r.json()["id"]
    assert r.json()["child_id"] == a
    r = await client.post(
        f"{PATH}/{iid}/triage",
        json={"outcome": "need", "category": "psych_counselling", "note": "学校反映情绪低落"},
        headers=await auth("director"),
    )
    assert r.status_code == 200, r.text
    need_id = r.json()["need_id"]
    async with db.session(write=False) as s:
        need = await s.get(Need, need_id)
        assert need is not None and need.child_id == a and need.urgency == 2 and need.note == "学校反映情绪低落"

    # A neighbour's tip that turns out to be nothing: no action, with a reason.
    r = await client.post(
        PATH,
        json=call(world, channel="neighbour", urgency=1, anonymous=True, caller_name=""),
        headers=await auth("supervisor"),
    )
    assert r.status_code == 201, r.text
    iid2 = r.json()["id"]
    assert r.json()["anonymous"] is True and r.json()["caller_name"] == ""
    r = await client.post(f"{PATH}/{iid2}/triage", json={"outcome": "no_action"}, headers=await auth("director"))
    assert_problem(r, 422)
    assert (await client.get(f"{PATH}/{iid2}", headers=await auth("director"))).json()["status"] == "new"
    r = await client.post(
        f"{PATH}/{iid2}/triage",
        json={"outcome": "no_action", "reason": "经核实系亲属临时照看，孩子安全"},
        headers=await auth("supervisor"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["triages"][0]["reason"] == "经核实系亲属临时照看，孩子安全"

    # A hospital's report about a child with no file: the director opens one straight away.
    r = await client.post(PATH, json=call(world, channel="hospital", urgency=4), headers=await auth("director"))
    iid3 = r.json()["id"]
    before = await count(db, Child)
    r = await client.post(
        f"{PATH}/{iid3}/triage",
        json={"outcome": "new_file", "child": new_file(world, "周小雨", "975")},
        headers=await auth("director"),
    )
    assert r.status_code == 200, r.text
    assert await count(db, Child) == before + 1
    assert r.json()["child_id"] is not None and r.json()["report_id"] is None

    # The list: filters, and the untriaged first.
    r = await client.post(PATH, json=call(world, channel="police", urgency=1), headers=await auth("admin"))
    listed = (await client.get(PATH, headers=await auth("director"))).json()
    assert listed["total"] == 4 and listed["items"][0]["status"] == "new"
    assert (await client.get(PATH, params={"status": "triaged"}, headers=await auth("director"))).json()["total"] == 3
    assert (await client.get(PATH, params={"channel": "school"}, headers=await auth("director"))).json()["total"] == 1
    assert (await client.get(PATH, params={"urgency": 4}, headers=await auth("director"))).json()["total"] == 1
    assert (await client.get(PATH, params={"child_id": a}, headers=await auth("director"))).json()["total"] == 1
    assert (await client.get(PATH, params={"overdue": True}, headers=await auth("director"))).json()["total"] == 0


async def test_scope_of_reads_records_and_triage(client, auth, cases: Cases, db, world) -> None:
    c1, c2, c3 = world.communities
    tried = refused_right = 0
    # Who may take a call for which community.
    for who, community, status in (
        ("director", c1, 201),
        ("director", c2, 422),
        ("supervisor", c2, 201),
        ("supervisor", c3, 422),
        ("admin", c3, 201),
        ("auditor", c1, 403),
        ("org", c1, 403),
        ("fund", c1, 403),
    ):
        r = await client.post(PATH, json=call(world, community_id=community), headers=await auth(who))
        tried += 1
        assert r.status_code == status, (who, r.text)
        if status >= 400:
            assert_problem(r, status)
            refused_right += 1
    # A filed child outside the recorder's scope is not found.
    r = await client.post(
        PATH,
        json=call(world, community_id=c3, child_id=cases.children["C"], subject_name="", subject_description=""),
        headers=await auth("supervisor"),
    )
    assert_problem(r, 422)  # the community is outside the street first
    r = await client.post(
        PATH,
        json=call(world, child_id=cases.children["C"], subject_name="", subject_description=""),
        headers=await auth("director"),
    )
    assert_problem(r, 404)
    async with db.session(write=False) as s:
        ids = {i.community_id: i.id for i in (await s.scalars(select(Intake))).all()}
    own, other = ids[c1], ids[c3]
    # Reading: the community's director, the street's supervisor, the district, the auditor; nobody else.
    for who, iid, status in (
        ("director", own, 200),
        ("director", other, 404),
        ("director2", own, 404),
        ("supervisor", own, 200),
        ("supervisor", other, 404),
        ("supervisor2", other, 200),
        ("admin", other, 200),
        ("auditor", own, 200),
        ("org", own, 404),
        ("fund", own, 404),
    ):
        r = await client.get(f"{PATH}/{iid}", headers=await auth(who))
        tried += 1
        assert r.status_code == status, (who, r.text)
        if status == 404:
            refused_right += 1
    assert (await client.get(PATH, headers=await auth("director"))).json()["total"] == 1
    assert (await client.get(PATH, headers=await auth("supervisor"))).json()["total"] == 2
    assert (await client.get(PATH, headers=await auth("admin"))).json()["total"] == 3
    assert_problem(await client.get(PATH, headers=await auth("org")), 403)
    # Triage: the auditor sees but may not; another community's director is told it does not exist; the district
    # may not make a mandatory report (the director or the supervisor reports).
    no = {"outcome": "no_action", "reason": "重复来电"}
    assert_problem(await client.post(f"{PATH}/{own}/triage", json=no, headers=await auth("auditor")), 403)
    assert_problem(await client.post(f"{PATH}/{own}/triage", json=no, headers=await auth("director2")), 404)
    assert_problem(await client.post(f"{PATH}/{own}/triage", json=no, headers=await auth("org")), 404)
    report = {"outcome": "mandatory_report", "report_kind": "missing"}
    assert_problem(await client.post(f"{PATH}/{own}/triage", json=report, headers=await auth("admin")), 403)
    tried += 4
    refused_right += 4
    assert await count(db, IntakeTriage) == 0 and await count(db, MandatoryReport) == 0
    # Every read wrote audit rows.
    assert await count(db, AuditEntry, AuditEntry.entity == "intake", AuditEntry.action == "read") == 5
    figures.record("intake scope", "requests", tried)
    figures.record("intake scope", "refused as the policy says", refused_right)
    figures.record("intake scope", "cross-scope successes", 0)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"channel": "fax"}, None),
        ({"urgency": 5}, None),
        ({"what": "   "}, None),
        ({"caller_phone": "call me maybe"}, None),
        ({"subject_name": "", "subject_description": ""}, None),
        ({"place": ""}, None),
        ({"anonymous": True}, None),
        ({"community_id": 2**31}, None),
        ({"received_at": "2026-12-01T10:00:00"}, None),
        ({"id_number": "440304201801011234"}, None),
    ],
)
async def test_bad_intakes_are_refused_and_nothing_is_written(
    client, auth, cases: Cases, db, world, body, field
) -> None:
    r = await client.post(PATH, json=call(world, **body), headers=await auth("director"))
    assert r.status_code in (400, 422), r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert await count(db, Intake) == 0 and await count(db, Notification) == 0


async def test_bad_triages_are_refused_and_nothing_changes(client, auth, cases: Cases, db, world) -> None:
    iid = (await client.post(PATH, json=call(world), headers=await auth("director"))).json()["id"]
    headers = await auth("director")
    for body, status in (
        ({"outcome": "escalate"}, 400),
        ({"outcome": "mandatory_report"}, 422),
        ({"outcome": "mandatory_report", "report_kind": "missing", "reason": "x"}, 422),
        ({"outcome": "mandatory_report", "report_kind": "missing", "category": "temporary_care"}, 422),
        ({"outcome": "need", "category": "psych_counselling"}, 422),
        ({"outcome": "need", "child_id": cases.children["C"], "category": "psych_counselling"}, 404),
        ({"outcome": "need", "child_id": cases.children["A"], "category": "no_such"}, 422),
        ({"outcome": "new_file"}, 422),
        ({"outcome": "new_file", "child": {**new_file(world), "community_id": world.communities[1]}}, 422),
        ({"outcome": "new_file", "child": {**new_file(world), "id_number": "440304201801011234"}}, 422),
        ({"outcome": "link_file", "child_id": cases.children["A"]}, 422),
        ({"outcome": "no_action", "reason": " "}, 422),
    ):
        r = await client.post(f"{PATH}/{iid}/triage", json=body, headers=headers)
        assert r.status_code == status, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    assert_problem(
        await client.post(
            f"{PATH}/{2**31 - 1}/triage", json={"outcome": "no_action", "reason": "重复"}, headers=headers
        ),
        404,
    )
    assert (await client.get(f"{PATH}/{iid}", headers=headers)).json()["status"] == "new"
    assert await count(db, IntakeTriage) == 0 and await count(db, MandatoryReport) == 0
    assert await count(db, Child) == 3 and await count(db, Need) == 3


async def test_overdue_intake_goes_to_the_supervisor_once(client, auth, cases: Cases, db, world) -> None:
    headers = await auth("director")
    received = clock.now() - dt.timedelta(hours=3)
    late = (
        await client.post(PATH, json=call(world, urgency=4, received_at=received.isoformat()), headers=headers)
    ).json()
    assert late["overdue"] is True
    fresh = (await client.post(PATH, json=call(world, urgency=1), headers=headers)).json()
    assert fresh["overdue"] is False
    listed = (await client.get(PATH, params={"overdue": True}, headers=headers)).json()
    assert [i["id"] for i in listed["items"]] == [late["id"]]
    job = JOBS["intake.overdue"]
    assert job is overdue
    assert await job(db) == 1
    assert await job(db) == 0  # a second run tells nobody twice
    async with db.session(write=False) as s:
        notes = (await s.scalars(select(Notification).where(Notification.kind == "intake_overdue"))).all()
    assert [n.recipient_id for n in notes] == [world.users["supervisor"]]
    assert notes[0].data["urgent"] is True and notes[0].entity_id == late["id"]
    assert "小军" not in notes[0].body and "荔枝公园" not in notes[0].body
    assert (await client.get(f"{PATH}/{late['id']}", headers=headers)).json()["escalated_at"] is not None
    # Triaged in time, or later: never escalated again.
    await client.post(f"{PATH}/{late['id']}/triage", json={"outcome": "no_action", "reason": "已核实"}, headers=headers)
    assert await job(db) == 0
    figures.record("intake overdue", "job runs", 3)
    figures.record("intake overdue", "notifications told twice", len(notes) - 1)


async def test_report_linked_elsewhere_still_brings_the_call_to_the_timeline(
    client, auth, cases: Cases, db, world
) -> None:
    """The report an intake made, linked to a file on the report board (not from the intake): the call is on that
    child's timeline through the report, and the intake takes no second file."""
    headers = await auth("director")
    iid = (await client.post(PATH, json=call(world, channel="police"), headers=headers)).json()["id"]
    rid = (
        await client.post(
            f"{PATH}/{iid}/triage", json={"outcome": "mandatory_report", "report_kind": "missing"}, headers=headers
        )
    ).json()["report_id"]
    a = cases.children["A"]
    r = await client.post(f"/api/v1/mandatory-reports/{rid}/link", json={"child_id": a}, headers=headers)
    assert r.status_code == 200, r.text
    events = (await client.get(f"/api/v1/children/{a}/timeline", headers=headers)).json()["events"]
    received = [e for e in events if e["kind"] == "intake_received"]
    assert [e["title"] for e in received] == ["公安转来线索"] and received[0]["entity_id"] == iid
    assert any(e["kind"] == "intake_triaged" and e["title"] == "来电研判：转为强制报告" for e in events)
    r = await client.post(f"{PATH}/{iid}/triage", json={"outcome": "link_file", "child_id": a}, headers=headers)
    assert_problem(r, 409)
    # Another community's child's timeline knows nothing of it.
    events = await client.get(f"/api/v1/children/{cases.children['B']}/timeline", headers=await auth("director2"))
    assert "intake_received" not in events.text


async def test_a_community_without_a_director_routes_to_the_street(client, auth, cases: Cases, db, world) -> None:
    async with db.session() as s:
        director = await s.get(User, world.users["director2"])
        assert director is not None
        director.is_active = False
    r = await client.post(PATH, json=call(world, community_id=world.communities[1]), headers=await auth("admin"))
    assert r.status_code == 201, r.text
    assert r.json()["notified_user_ids"] == [world.users["supervisor"]]
