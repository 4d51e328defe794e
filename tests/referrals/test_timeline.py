"""A child's closed-loop timeline: every event in one of the six Yuzhong stages, oldest first, scoped and audited."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from marketplace import clock
from marketplace.audit.models import AuditEntry
from marketplace.cases.models import Child, Escalation, MandatoryReport, MandatoryReportStep, Need, Visit
from marketplace.cases.taxonomy import LOOP_STAGES
from marketplace.referrals.models import Referral
from tests.cases.support import Cases, add_need, add_referral
from tests.conftest import assert_problem


async def walk(db: Any, world: Any, cases: Cases) -> dict[str, int]:
    """Child A: a visit 30 days ago, a report 29 days ago with the police called and a temporary care step, an
    emergency need, its guardianship assessment referral closed with the verdict partly_met, an intervention step,
    an overdue-visit escalation."""
    now = clock.now()
    ago = lambda days, hours=0: now - dt.timedelta(days=days, hours=hours)  # noqa: E731
    director, supervisor = world.users["director"], world.users["supervisor"]
    async with db.session() as s:
        need = await s.get(Need, cases.needs["A"])
        assert need is not None
        child_id = need.child_id
        visit = Visit(
            child_id=child_id,
            visited_on=clock.local_date(ago(30)),
            kind="home",
            findings="孩子独自在家",
            next_visit_due=clock.today(),
            created_by=director,
        )
        report = MandatoryReport(
            child_id=child_id,
            community_id=need.community_id,
            street_id=need.street_id,
            kind="lives_alone",
            description="独居无人照料",
            police_notified=True,
            police_notified_at=ago(29, 1),
            police_station="福田派出所",
            police_receipt_no="R-0001",
            reported_by=director,
            supervisor_ack_at=ago(28),
            supervisor_ack_by=supervisor,
            status="open",
            created_at=ago(29, 2),
        )
        s.add_all([visit, report])
        await s.flush()
        s.add_all(
            [
                MandatoryReportStep(report_id=report.id, kind="police_notified", taken_at=ago(29, 1), note="110"),
                MandatoryReportStep(report_id=report.id, kind="temporary_care", taken_at=ago(29), note="临时安置"),
                MandatoryReportStep(
                    report_id=report.id, kind="guardianship_intervention", taken_at=ago(5), note="临时监护"
                ),
            ]
        )
        emergency = await add_need(s, await s.get(Child, child_id), "guardianship_assessment", 4)
        emergency.emergency, emergency.report_id, emergency.created_at = True, report.id, ago(29)
        emergency.status, emergency.settled_at = "partly_met", ago(10)
        ref = await add_referral(
            s,
            emergency,
            world.services[0],
            world.orgs[0],
            status="closed",
            sent_at=ago(28),
            accepted_at=ago(27),
            started_at=ago(26),
            completed_at=ago(12),
            outcome="got_help",
            verdict="partly_met",
            verdict_note="仍需跟进",
            closed_at=ago(10),
        )
        s.add(
            Escalation(
                entity="child",
                entity_id=child_id,
                kind="visit",
                level=1,
                due_at=ago(2),
                child_id=child_id,
                created_at=ago(1),
            )
        )
        # Another child's rows never show.
        other = await s.get(Need, cases.needs["C"])
        assert other is not None
        s.add(Visit(child_id=other.child_id, visited_on=clock.today(), kind="home", next_visit_due=clock.today()))
        return {"child": child_id, "report": report.id, "referral": ref.id, "need": emergency.id}


async def test_timeline_tells_the_loop_in_six_stages(client, auth, world, db, cases: Cases) -> None:
    ids = await walk(db, world, cases)
    r = await client.get(f"/api/v1/children/{ids['child']}/timeline", headers=await auth("director"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["child"] == {"id": ids["child"], "name": "张小明"}
    assert [(s["code"], s["label"]) for s in body["stages"]] == list(LOOP_STAGES.items())
    assert {s["code"]: s["reached"] for s in body["stages"]} == {code: True for code in LOOP_STAGES}
    events = body["events"]
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        assert e["stage_label"] == LOOP_STAGES[e["stage"]]
        by_kind.setdefault(e["kind"], []).append(e)
    assert by_kind["visit"][0]["stage"] == "monitoring" and by_kind["visit"][0]["detail"] == "孩子独自在家"
    assert len(by_kind["visit"]) == 1  # only this child's
    assert by_kind["report"][0] | {"at": None} == {
        "at": None,
        "stage": "report",
        "stage_label": "发现报告",
        "kind": "report",
        "title": "强制报告：独居无人照料",
        "detail": "独居无人照料",
        "entity": "mandatory_report",
        "entity_id": ids["report"],
    }
    assert [e["title"] for e in by_kind["report_ack"]] == ["街道督导员已签收"]
    police = by_kind["police_notified"][0]
    assert len(by_kind["police_notified"]) == 1  # the step of the same call is not told twice
    assert police["stage"] == "emergency" and police["detail"] == "接警单位：福田派出所；回执号：R-0001"
    assert {(e["stage"], e["title"]) for e in by_kind["report_step"]} == {
        ("emergency", "临时照料安置"),
        ("intervention", "监护干预"),
    }
    opened = {e["entity_id"]: e for e in by_kind["need_opened"]}
    assert opened[ids["need"]]["stage"] == "emergency"
    assert opened[cases.needs["A"]]["stage"] == "assistance"
    assessment = [e for e in events if e["entity"] == "referral" and e["entity_id"] == ids["referral"]]
    assert [e["kind"] for e in assessment] == [
        "referral_sent",
        "referral_accepted",
        "referral_started",
        "referral_completed",
        "referral_closed",
    ]
    assert {e["stage"] for e in assessment} == {"assessment"}
    assert assessment[3]["detail"] == "机构建议：已获得帮助"
    assert assessment[4]["detail"] == "主任认定：需求部分满足；仍需跟进"
    # The seeded counselling referral of need A is assistance.
    assert {e["stage"] for e in events if e["entity"] == "referral" and e["entity_id"] == cases.referrals["A"]} == {
        "assistance"
    }
    esc = by_kind["escalation"][0]
    assert esc["stage"] == "monitoring" and esc["title"] == "走访逾期" and esc["detail"] == "已提醒儿童主任"


async def test_first_stage_times_and_unreached_stages(client, auth, world, db, cases: Cases) -> None:
    r = await client.get(f"/api/v1/children/{cases.children['C']}/timeline", headers=await auth("director3"))
    stages = {s["code"]: s for s in r.json()["stages"]}
    assert stages["assistance"]["reached"] and stages["assistance"]["first_at"] is not None
    assert not stages["report"]["reached"] and stages["report"]["first_at"] is None


async def test_timeline_scope_and_audit(client, auth, world, db, cases: Cases) -> None:
    ids = await walk(db, world, cases)
    url = f"/api/v1/children/{ids['child']}/timeline"
    for who in ("director2", "director3", "supervisor2", "org", "org2"):
        assert_problem(await client.get(url, headers=await auth(who)), 404)
    assert_problem(await client.get("/api/v1/children/999999/timeline", headers=await auth("admin")), 404)
    for who in ("director", "supervisor", "admin"):
        assert (await client.get(url, headers=await auth(who))).status_code == 200, who
    async with db.session(write=False) as s:
        rows = (
            await s.scalars(
                select(AuditEntry).where(
                    AuditEntry.entity == "child", AuditEntry.entity_id == ids["child"], AuditEntry.action == "read"
                )
            )
        ).all()
        assert sorted(a.username for a in rows if a.fields == ["timeline"]) == ["admin", "director", "supervisor"]
        assert await s.scalar(select(Referral.verdict).where(Referral.id == ids["referral"])) == "partly_met"
