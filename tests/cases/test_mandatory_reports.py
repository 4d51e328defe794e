"""Mandatory reports (强制报告) as records: made for a filed or an unidentified child, read in scope with audit
rows, police notification and emergency steps recorded, acknowledged by the street and the district, linked to a
file later, escalated when not acknowledged in time."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from marketplace import clock
from marketplace.audit.models import AuditEntry
from marketplace.cases.jobs import report_ack_overdue
from marketplace.cases.models import Escalation, MandatoryReport, MandatoryReportStep, Need, Notification
from marketplace.tasks import JOBS
from tests.cases.support import Cases
from tests.conftest import assert_problem

PATH = "/api/v1/mandatory-reports"


def unidentified(**kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "lives_alone",
        "description": "菜市场附近发现一名男孩独自过夜，自称父母外出打工",
        "subject_name": "小军",
        "subject_description": "男孩，约8岁，穿蓝色校服",
        "place": "福山社区菜市场东门",
    }
    body.update(kw)
    return body


def iso(when: dt.datetime) -> str:
    return when.isoformat()


async def count(db: Any, model: Any) -> int:
    async with db.session(write=False) as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_unidentified_child_report_created_acknowledged_and_linked(
    client, auth, cases: Cases, db, world, settings
) -> None:
    now = clock.now()
    r = await client.post(
        PATH, json=unidentified(occurred_at=iso(now - dt.timedelta(hours=1))), headers=await auth("director")
    )
    assert r.status_code == 201, r.text
    report = r.json()
    rid = report["id"]
    assert report["child_id"] is None and report["need_id"] is None
    assert report["community_id"] == world.communities[0] and report["street_id"] == world.streets[0]
    assert report["status"] == "open" and report["reporter_role"] == "child_director"
    assert report["subject_name"] == "小军" and report["place"] == "福山社区菜市场东门"
    assert set(report["notified_user_ids"]) == {world.users["supervisor"], world.users["admin"]}
    sup, dis = report["acknowledgements"]
    assert (sup["level"], dis["level"]) == ("supervisor", "district")
    due = dt.datetime.fromisoformat(sup["due_at"]) - dt.datetime.fromisoformat(report["created_at"])
    assert due == dt.timedelta(hours=settings.deadlines.report_ack_supervisor_hours)
    due = dt.datetime.fromisoformat(dis["due_at"]) - dt.datetime.fromisoformat(report["created_at"])
    assert due == dt.timedelta(hours=settings.deadlines.report_ack_district_hours)
    assert sup["at"] is None and sup["late"] is False and sup["overdue"] is False
    # No emergency need yet: there is no file to open it on.
    async with db.session(write=False) as s:
        assert await s.scalar(select(func.count()).select_from(Need).where(Need.report_id == rid)) == 0

    # The street and the district are told at once, without the child's name or description.
    for who in ("supervisor", "admin"):
        notes = (await client.get("/api/v1/notifications", headers=await auth(who))).json()["items"]
        assert [n["kind"] for n in notes] == ["mandatory_report"]
        assert notes[0]["entity"] == "mandatory_report" and notes[0]["entity_id"] == rid
        assert "小军" not in notes[0]["body"] and "蓝色校服" not in notes[0]["body"]
    assert (await client.get("/api/v1/notifications", headers=await auth("supervisor2"))).json()["total"] == 0

    # Read in scope: the community's director, the street's supervisor, the district, the auditor.
    for who in ("director", "supervisor", "admin", "auditor"):
        listed = (await client.get(PATH, headers=await auth(who))).json()
        assert [i["id"] for i in listed["items"]] == [rid], who
        assert (await client.get(f"{PATH}/{rid}", headers=await auth(who))).status_code == 200, who
    # Another community's director, another street's supervisor: not there at all.
    for who in ("director2", "director3", "supervisor2"):
        assert (await client.get(PATH, headers=await auth(who))).json()["total"] == 0, who
        assert_problem(await client.get(f"{PATH}/{rid}", headers=await auth(who)), 404)
    # Providers and the money side of the district never read children's data.
    for who in ("org", "fund", "procurement"):
        assert_problem(await client.get(PATH, headers=await auth(who)), 403)
        assert_problem(await client.get(f"{PATH}/{rid}", headers=await auth(who)), 404)

    # The director records the police notification and the emergency steps.
    h = await auth("director")
    police = {"notified_at": iso(now - dt.timedelta(minutes=30)), "station": "福田派出所", "receipt_number": "FT-0921"}
    r = await client.post(f"{PATH}/{rid}/police", json=police, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["police_notified"] is True
    assert body["police"]["station"] == "福田派出所" and body["police"]["receipt_number"] == "FT-0921"
    assert body["police"]["recorded_by"] == world.users["director"]
    assert_problem(await client.post(f"{PATH}/{rid}/police", json=police, headers=h), 409)
    step = {"kind": "temporary_care", "taken_at": iso(now - dt.timedelta(minutes=10)), "note": "送至临时照料点"}
    r = await client.post(f"{PATH}/{rid}/steps", json=step, headers=h)
    assert r.status_code == 200, r.text
    assert [(s["kind"], s["kind_label"]) for s in r.json()["steps"]] == [
        ("police_notified", "已报警"),
        ("temporary_care", "临时照料安置"),
    ]
    # Only the director or the supervisor record handling; the district reads it.
    assert_problem(await client.post(f"{PATH}/{rid}/steps", json=step, headers=await auth("admin")), 403)
    assert_problem(await client.post(f"{PATH}/{rid}/steps", json=step, headers=await auth("director2")), 404)

    # Acknowledgements: the director cannot, the street's supervisor and the district each once.
    assert_problem(await client.post(f"{PATH}/{rid}/acknowledge", headers=await auth("director")), 403)
    assert_problem(await client.post(f"{PATH}/{rid}/acknowledge", headers=await auth("supervisor2")), 404)
    assert_problem(await client.post(f"{PATH}/{rid}/close", headers=h), 409)  # not yet acknowledged
    r = await client.post(f"{PATH}/{rid}/acknowledge", headers=await auth("supervisor"))
    assert r.status_code == 200, r.text
    sup = r.json()["acknowledgements"][0]
    assert sup["by"] == world.users["supervisor"] and sup["at"] is not None and sup["late"] is False
    assert r.json()["status"] == "open"  # the district has not acknowledged yet
    assert_problem(await client.post(f"{PATH}/{rid}/acknowledge", headers=await auth("supervisor")), 409)
    r = await client.post(f"{PATH}/{rid}/acknowledge", headers=await auth("admin"))
    assert r.status_code == 200 and r.json()["status"] == "acknowledged"
    assert r.json()["acknowledgements"][1]["by"] == world.users["admin"]
    assert_problem(await client.post(f"{PATH}/{rid}/acknowledge", headers=await auth("admin")), 409)
    assert (await client.get(PATH, params={"status": "acknowledged", "unlinked": True}, headers=h)).json()["total"] == 1

    # Linked to a file: the emergency need opens, the child becomes critical, the report is the file's.
    assert_problem(await client.post(f"{PATH}/{rid}/link", json={"child_id": cases.children["C"]}, headers=h), 404)
    r = await client.post(f"{PATH}/{rid}/link", json={"child_id": cases.children["A"]}, headers=h)
    assert r.status_code == 200, r.text
    linked = r.json()
    assert linked["child_id"] == cases.children["A"] and linked["linked_by"] == world.users["director"]
    assert linked["linked_at"] is not None and linked["need_id"]
    need = (await client.get(f"/api/v1/needs/{linked['need_id']}", headers=h)).json()
    assert need["urgency"] == 4 and need["emergency"] is True and need["status"] == "open"
    assert need["category"] == "temporary_care" and need["child_id"] == cases.children["A"]
    child = (await client.get(f"/api/v1/children/{cases.children['A']}", headers=h)).json()
    assert child["risk_level"] == "critical"
    assert_problem(await client.post(f"{PATH}/{rid}/link", json={"child_id": cases.children["A"]}, headers=h), 409)
    # The street and the district hear that the child was identified and the emergency need opened.
    notes = (await client.get("/api/v1/notifications", headers=await auth("supervisor"))).json()["items"]
    assert [n["data"].get("linked", False) for n in notes] == [True, False]
    assert notes[0]["data"]["need_id"] == linked["need_id"] and "小军" not in notes[0]["body"]
    listed = (await client.get(PATH, params={"child_id": cases.children["A"]}, headers=h)).json()
    assert [i["id"] for i in listed["items"]] == [rid]
    assert (await client.get(PATH, params={"unlinked": True}, headers=h)).json()["total"] == 0

    r = await client.post(f"{PATH}/{rid}/close", json={"note": "已由监护人接回"}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "closed" and r.json()["closed_at"]
    assert_problem(await client.post(f"{PATH}/{rid}/close", headers=h), 409)
    assert_problem(await client.post(f"{PATH}/{rid}/steps", json=step, headers=h), 409)


async def test_link_by_the_file_director_of_the_same_street_moves_the_report(client, auth, cases: Cases, world) -> None:
    r = await client.post(PATH, json=unidentified(), headers=await auth("director"))
    rid = r.json()["id"]
    # Child B is in 岗厦 (director2), same street: its director may link though they could not read the report.
    h2 = await auth("director2")
    r = await client.post(f"{PATH}/{rid}/link", json={"child_id": cases.children["B"], "category": "nope"}, headers=h2)
    assert_problem(r, 422)
    r = await client.post(f"{PATH}/{rid}/link", json={"child_id": cases.children["B"]}, headers=h2)
    assert r.status_code == 200, r.text
    assert r.json()["community_id"] == world.communities[1]
    assert (await client.get(f"{PATH}/{rid}", headers=h2)).status_code == 200
    # The supervisor of another street cannot link to a file of theirs: the report is not in their street.
    r = await client.post(PATH, json=unidentified(), headers=await auth("director"))
    other = r.json()["id"]
    r = await client.post(
        f"{PATH}/{other}/link", json={"child_id": cases.children["C"]}, headers=await auth("supervisor2")
    )
    assert_problem(r, 404)
    # The street's supervisor can, but not to a file of another street.
    r = await client.post(
        f"{PATH}/{other}/link", json={"child_id": cases.children["C"]}, headers=await auth("supervisor")
    )
    assert_problem(r, 404)


async def test_report_for_a_filed_child_opens_the_emergency_need(client, auth, cases: Cases, db, world) -> None:
    r = await client.post(
        PATH,
        json={"child_id": cases.children["B"], "kind": "abuse_suspected", "description": "身上多处淤青"},
        headers=await auth("supervisor"),
    )
    assert r.status_code == 201, r.text
    report = r.json()
    assert report["child_id"] == cases.children["B"] and report["need_id"]
    assert report["community_id"] == world.communities[1] and report["reporter_role"] == "child_supervisor"
    async with db.session(write=False) as s:
        need = await s.get(Need, report["need_id"])
        assert need is not None and need.urgency == 4 and need.emergency and need.report_id == report["id"]
        assert need.category == "guardianship_assessment"
    # The child's own endpoint keeps its path and fields, and now shows the record's too.
    r = await client.post(
        f"/api/v1/children/{cases.children['A']}/reports",
        json={"kind": "missing", "description": "放学未归", "place": "福山小学"},
        headers=await auth("director"),
    )
    assert r.status_code == 201, r.text
    body = r.json()
    for field in ("id", "child_id", "kind", "kind_label", "description", "police_notified", "need_id", "created_at"):
        assert field in body
    assert body["place"] == "福山小学" and body["status"] == "open" and len(body["acknowledgements"]) == 2
    # Another community's director, an organization: not theirs to report on.
    assert_problem(
        await client.post(
            PATH,
            json={"child_id": cases.children["A"], "kind": "missing", "description": "x"},
            headers=await auth("director2"),
        ),
        404,
    )
    assert_problem(
        await client.post(
            PATH,
            json={"child_id": cases.children["A"], "kind": "missing", "description": "x"},
            headers=await auth("admin"),
        ),
        403,
    )
    assert_problem(await client.post(PATH, json=unidentified(), headers=await auth("org")), 403)
    # A supervisor places an unidentified child's report in a community of their street, and only there.
    r = await client.post(PATH, json=unidentified(), headers=await auth("supervisor"))
    assert_problem(r, 422)
    r = await client.post(PATH, json=unidentified(community_id=world.communities[2]), headers=await auth("supervisor"))
    assert_problem(r, 403)
    r = await client.post(PATH, json=unidentified(community_id=world.communities[1]), headers=await auth("supervisor"))
    assert r.status_code == 201 and r.json()["community_id"] == world.communities[1]
    r = await client.post(PATH, json=unidentified(community_id=world.communities[1]), headers=await auth("director"))
    assert_problem(r, 403)


async def test_bad_input_is_refused_and_changes_nothing(client, auth, cases: Cases, db) -> None:
    h = await auth("director")
    future = iso(clock.now() + dt.timedelta(days=1))
    bad_bodies = [
        (unidentified(subject_name="", subject_description=""), 400),  # nobody to report on
        (unidentified(place=""), 400),  # an unidentified child needs a place
        (unidentified(id_number="44030420150115991X"), 400),  # no identity number taken here
        (unidentified(kind="fell_asleep"), 400),
        (unidentified(description=""), 400),
        (unidentified(occurred_at="2026-01-01T08:00:00"), 400),  # a time without its offset
        (unidentified(occurred_at=future), 422),
        (unidentified(category="temporary_care"), 400),  # chosen when linking
        ({"child_id": cases.children["A"], **unidentified()}, 400),
        ({"child_id": cases.children["A"], "kind": "missing", "description": "x", "category": "nope"}, 422),
        ({"child_id": 999_999, "kind": "missing", "description": "x"}, 404),
    ]
    for body, status in bad_bodies:
        assert_problem(await client.post(PATH, json=body, headers=h), status)
    assert await count(db, MandatoryReport) == 0
    assert_problem(
        await client.post(
            f"/api/v1/children/{cases.children['A']}/reports",
            json={"kind": "missing", "description": "x", "id_number": "44030420150115991X"},
            headers=h,
        ),
        400,
    )
    assert await count(db, MandatoryReport) == 0

    occurred = clock.now() - dt.timedelta(hours=2)
    r = await client.post(PATH, json=unidentified(occurred_at=iso(occurred)), headers=h)
    rid = r.json()["id"]
    bad_police = [
        ({"notified_at": future, "station": "福田派出所", "receipt_number": "1"}, 422),
        ({"notified_at": iso(occurred - dt.timedelta(hours=1)), "station": "福田派出所", "receipt_number": "1"}, 422),
        ({"notified_at": iso(occurred), "station": " ", "receipt_number": "1"}, 400),
        ({"notified_at": iso(occurred), "station": "福田派出所"}, 400),
    ]
    for body, status in bad_police:
        assert_problem(await client.post(f"{PATH}/{rid}/police", json=body, headers=h), status)
    bad_steps = [
        ({"kind": "teleported", "taken_at": iso(occurred)}, 400),
        ({"kind": "medical", "taken_at": future}, 422),
        ({"kind": "medical", "taken_at": iso(occurred - dt.timedelta(minutes=1))}, 422),
        ({"kind": "medical"}, 400),
    ]
    for body, status in bad_steps:
        assert_problem(await client.post(f"{PATH}/{rid}/steps", json=body, headers=h), status)
    assert_problem(await client.post(f"{PATH}/999999/steps", json=bad_steps[0][0], headers=h), 400)
    assert_problem(await client.post(f"{PATH}/999999/acknowledge", headers=await auth("admin")), 404)
    assert_problem(await client.post(f"{PATH}/{rid}/link", json={"child_id": 999_999}, headers=h), 404)
    assert_problem(await client.get(PATH, params={"status": "lost"}, headers=h), 400)
    async with db.session(write=False) as s:
        report = await s.get(MandatoryReport, rid)
        assert report is not None and report.police_notified is False and report.police_notified_at is None
        assert await s.scalar(select(func.count()).select_from(MandatoryReportStep)) == 0


async def test_reads_write_audit_rows(client, auth, cases: Cases, db) -> None:
    r = await client.post(PATH, json=unidentified(), headers=await auth("director"))
    rid = r.json()["id"]
    await client.post(f"{PATH}/{rid}/link", json={"child_id": cases.children["A"]}, headers=await auth("director"))

    async def reads(action: str, entity: str, entity_id: int) -> int:
        async with db.session(write=False) as s:
            stmt = select(func.count()).select_from(AuditEntry)
            stmt = stmt.where(
                AuditEntry.action == action, AuditEntry.entity == entity, AuditEntry.entity_id == entity_id
            )
            return int(await s.scalar(stmt) or 0)

    assert await reads("read", "mandatory_report", rid) == 0
    assert (await client.get(f"{PATH}/{rid}", headers=await auth("auditor"))).status_code == 200
    assert await reads("read", "mandatory_report", rid) == 1
    assert await reads("read", "child", cases.children["A"]) == 1
    assert (await client.get(PATH, headers=await auth("supervisor"))).status_code == 200
    assert await reads("list", "mandatory_report", rid) == 1
    assert await reads("list", "child", cases.children["A"]) == 1
    # A refused read leaves no trace of the report's data having been shown.
    assert (await client.get(f"{PATH}/{rid}", headers=await auth("director3"))).status_code == 404
    assert await reads("read", "mandatory_report", rid) == 1


async def test_acknowledgement_overdue_escalates_once(client, auth, cases: Cases, db, world, frozen_clock) -> None:
    assert JOBS["cases.report_ack_overdue"] is report_ack_overdue
    t0 = clock.now().replace(microsecond=0)
    frozen_clock(t0)
    late = (await client.post(PATH, json=unidentified(), headers=await auth("director"))).json()["id"]
    on_time = (await client.post(PATH, json=unidentified(), headers=await auth("director"))).json()["id"]
    assert (await client.post(f"{PATH}/{on_time}/acknowledge", headers=await auth("supervisor"))).status_code == 200

    async def steps() -> list[tuple[int, int, list[int]]]:
        async with db.session(write=False) as s:
            rows = await s.scalars(select(Escalation).order_by(Escalation.level, Escalation.entity_id))
            return [(e.entity_id, e.level, sorted(e.recipients)) for e in rows.all() if e.kind == "report_ack"]

    async def escalation_notes() -> dict[int, int]:
        async with db.session(write=False) as s:
            rows = await s.execute(
                select(Notification.recipient_id, func.count())
                .where(Notification.kind == "escalation_report_ack")
                .group_by(Notification.recipient_id)
            )
            return {int(uid): int(n) for uid, n in rows.all()}

    frozen_clock(t0 + dt.timedelta(hours=1, minutes=59))
    assert await report_ack_overdue(db) == 0
    frozen_clock(t0 + dt.timedelta(hours=2, minutes=1))
    assert await report_ack_overdue(db) == 1
    assert await report_ack_overdue(db) == 0  # idempotent
    sup, admin = world.users["supervisor"], world.users["admin"]
    assert await steps() == [(late, 2, sorted([sup, admin]))]
    assert await escalation_notes() == {sup: 1, admin: 1}
    # The report shows the supervisor's acknowledgement as overdue (read at the frozen instant, within token life).
    report = (await client.get(f"{PATH}/{late}", headers=await auth("admin"))).json()
    assert report["acknowledgements"][0]["overdue"] is True and report["acknowledgements"][1]["overdue"] is False

    frozen_clock(t0 + dt.timedelta(hours=12, minutes=1))
    # Both reports are past the district's deadline: the district is told again, once each.
    assert await report_ack_overdue(db) == 2
    assert await report_ack_overdue(db) == 0
    assert await steps() == [(late, 2, sorted([sup, admin])), (late, 3, [admin]), (on_time, 3, [admin])]
    assert await escalation_notes() == {sup: 1, admin: 3}


async def test_closed_or_acknowledged_reports_do_not_escalate(client, auth, cases: Cases, db, frozen_clock) -> None:
    t0 = clock.now().replace(microsecond=0)
    frozen_clock(t0)
    rid = (await client.post(PATH, json=unidentified(), headers=await auth("director"))).json()["id"]
    await client.post(f"{PATH}/{rid}/acknowledge", headers=await auth("supervisor"))
    await client.post(f"{PATH}/{rid}/acknowledge", headers=await auth("admin"))
    frozen_clock(t0 + dt.timedelta(hours=13))
    assert await report_ack_overdue(db) == 0
    assert await count(db, Escalation) == 0


ROLES = ["admin", "supervisor", "supervisor2", "director", "director2", "director3", "org", "fund", "auditor"]
READ = {"admin": "ABC", "auditor": "ABC", "supervisor": "AB", "supervisor2": "C", "director": "A", "director2": "B"}
READ["director3"] = "C"
HANDLE = {"director": "A", "director2": "B", "director3": "C", "supervisor": "AB", "supervisor2": "C"}
ACKNOWLEDGE = {"admin": "ABC", "supervisor": "AB", "supervisor2": "C"}


async def test_scope_matrix_of_report_endpoints(client, auth, cases: Cases) -> None:
    """Every role against a report on each of the three children: outside its scope a role gets 403/404."""
    made = {}
    for label, reporter in (("A", "director"), ("B", "director2"), ("C", "director3")):
        r = await client.post(
            PATH,
            json={"child_id": cases.children[label], "kind": "missing", "description": "放学未归"},
            headers=await auth(reporter),
        )
        assert r.status_code == 201, r.text
        made[label] = r.json()["id"]
    step = {"kind": "other", "taken_at": iso(clock.now()), "note": "核实"}
    for name, method, suffix, body, allowed in (
        ("read", "GET", "", None, READ),
        ("step", "POST", "/steps", step, HANDLE),
        ("acknowledge", "POST", "/acknowledge", None, ACKNOWLEDGE),
    ):
        for role in ROLES:
            for label, rid in made.items():
                r = await client.request(method, f"{PATH}/{rid}{suffix}", json=body, headers=await auth(role))
                ok = label in allowed.get(role, "")
                if ok:
                    assert r.status_code == 200, f"{name}: {role} on {label} got {r.status_code}: {r.text}"
                else:
                    assert r.status_code in (403, 404), f"{name}: {role} on {label} got {r.status_code}"
                    # Outside the role's read scope the report does not exist for it.
                    if label not in READ.get(role, ""):
                        assert r.status_code == 404, f"{name}: {role} on {label} got {r.status_code}"
    listed = {
        role: sorted(i["id"] for i in (await client.get(PATH, headers=await auth(role))).json()["items"])
        for role in READ
    }
    assert listed == {role: sorted(made[x] for x in labels) for role, labels in READ.items()}
