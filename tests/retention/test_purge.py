"""The retention rule end to end: a child's whole file is worked, closed, left past the retention period and deleted
by the nightly job; then the child is looked for everywhere (README.md, "Retention").

One file is exercised through the API as a district works it: a visit with findings, a need, a referral with a
provider's service log, a mandatory report with an emergency step, an allowance payee and decision paid in a monthly
run, notifications, a background report export; then closed. Another file closed later (not due) and an active file
stay as they were."""

from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from marketplace import clock, tasks
from marketplace.audit.models import AuditEntry
from marketplace.cases import retention
from marketplace.cases.crypto import field_cipher
from marketplace.cases.models import Child, MandatoryReport, MandatoryReportStep, Need, Visit
from marketplace.features import load_jobs
from marketplace.guardianship import instrument
from marketplace.outbox import OutboxEvent
from marketplace.procurement.allowance_models import AllowancePayment
from marketplace.referrals.models import Referral, ReferralLog
from marketplace.safety.taxonomy import PREVENTIONS
from tests.cases.support import TokenAuth, id_number
from tests.procurement.allowance_helpers import run_sign_pay
from tests.procurement.helpers import make_budget
from tests.retention.scan import scan_database, scan_files
from tests.support import figures

SUITE = "Retention"
# What the file's rows store instead of clear text: ciphertexts ("v2:<key id>:...") and blind indexes (HMAC hex).
SEALED = re.compile(r"v\d+:[\w-]+:.{16,}|[0-9a-f]{64}", re.S)
T0 = dt.datetime(2026, 3, 10, 2, 0, tzinfo=dt.UTC)
BIRTH = dt.date(2014, 6, 18)
ID_NUMBER = id_number(BIRTH, "997")
NAME = "欧阳紫萱"
GUARDIAN = "司马建华"
PHONE = "13712345678"
ADDRESS = "福田区紫荆花园九栋七〇三"
SCHOOL = "福田区红荔路第九小学"
NOTES = "父母离异由祖父独自抚养琥珀"
FINDINGS = "走访发现左臂有淤青琥珀"
NEED_NOTE = "需要心理疏导琥珀"
LOG_NOTE = "第一次辅导后情绪稳定琥珀"
REPORT_TEXT = "孩子独自在家两天琥珀"
STEP_NOTE = "已由民警送往临时监护点琥珀"
SHARE_NOTE = "孩子喜欢画画琥珀"
PAYEE = "司马秀兰"
TRANSFER_REASON = "孩子随姑姑搬到岗厦居住琥珀"
ACCOUNT = "6222021234567890123"
CLEAR = [NAME, ID_NUMBER, GUARDIAN, PHONE, ADDRESS, SCHOOL, NOTES, FINDINGS, NEED_NOTE, LOG_NOTE, REPORT_TEXT]
CLEAR += [STEP_NOTE, SHARE_NOTE, PAYEE, ACCOUNT, TRANSFER_REASON]
# The casework around the file (safety checks, a hotline call, a case conference, guardianship, a parent away).
SAFETY_NOTE = "孩子说常被高年级同学堵在楼道琥珀"
CALL_TEXT = "邻居来电称孩子深夜独自在楼下琥珀"
CALLER = "上官明月"
MINUTES = "会商认为需由学校每日反馈出勤琥珀"
ASSESSMENT_NOTE = "祖父腿脚不便难以接送琥珀"
ENTRUSTED = "诸葛秀梅"
PARENT = "司马志强"
EMPLOYER = "玉林市某建筑工地琥珀"
CONTACT_NOTE = "父亲视频时答应清明回家琥珀"
CLEAR += [SAFETY_NOTE, CALL_TEXT, CALLER, MINUTES, ASSESSMENT_NOTE, ENTRUSTED, PARENT, EMPLOYER, CONTACT_NOTE]


def body(community_id: int, *, name: str, seq: str, **kw: object) -> dict[str, object]:
    return {
        "community_id": community_id,
        "name": name,
        "gender": "female",
        "birth_date": BIRTH.isoformat(),
        "id_number": id_number(BIRTH, seq),
        "categories": ["orphan"],
        "guardianship": "entrusted",
        "risk_level": "high",
        "consent_to_share": True,
        **kw,
    }


async def ok(response, status: int | None = None):  # type: ignore[no-untyped-def]
    """The answer's body, once it is a success (``status`` when given)."""
    assert 200 <= response.status_code < 300 and response.status_code == (status or response.status_code), response.text
    return response.json()


async def test_a_file_past_retention_leaves_no_copy(
    client, auth, db, world, settings, frozen_clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    load_jobs()
    frozen_clock(T0)
    director, supervisor, admin, org = [await auth(u) for u in ("director", "supervisor", "admin", "org")]
    await make_budget(client, await auth("procurement"), year=2026)

    # ---- the file, worked as a district works it
    child = await ok(
        await client.post(
            "/api/v1/children",
            json=body(
                world.communities[0],
                name=NAME,
                seq="997",
                guardian_name=GUARDIAN,
                guardian_relation="祖父",
                guardian_phone=PHONE,
                address=ADDRESS,
                school=SCHOOL,
                household_notes=NOTES,
                share_note=SHARE_NOTE,
            ),
            headers=director,
        )
    )
    cid = child["id"]
    visit = await ok(
        await client.post(
            f"/api/v1/children/{cid}/visits",
            json={"visited_on": "2026-03-09", "kind": "home", "findings": FINDINGS},
            headers=director,
        )
    )
    need = await ok(
        await client.post(
            f"/api/v1/children/{cid}/needs",
            json={"category": "psych_counselling", "urgency": 3, "note": NEED_NOTE},
            headers=director,
        )
    )
    referral = await ok(
        await client.post(
            "/api/v1/referrals",
            json={"need_id": need["id"], "service_id": world.services[0], "share_note": SHARE_NOTE},
            headers=director,
        )
    )
    rid = referral["id"]
    await ok(await client.post(f"/api/v1/referrals/{rid}/accept", headers=org))
    await ok(await client.post(f"/api/v1/referrals/{rid}/start", headers=org))
    await ok(
        await client.post(
            f"/api/v1/referrals/{rid}/logs",
            json={"delivered_on": "2026-03-10", "note": LOG_NOTE, "minutes": 60},
            headers=org,
        )
    )
    report = await ok(
        await client.post(
            f"/api/v1/children/{cid}/reports",
            json={"kind": "lives_alone", "description": REPORT_TEXT, "police_notified": True, "place": ADDRESS},
            headers=director,
        )
    )
    await ok(
        await client.post(
            f"/api/v1/mandatory-reports/{report['id']}/steps",
            json={"kind": "temporary_care", "taken_at": "2026-03-10T02:00:00+00:00", "note": STEP_NOTE},
            headers=director,
        )
    )
    await ok(
        await client.post(
            f"/api/v1/children/{cid}/allowance-payee",
            json={"kind": "guardian", "name": PAYEE, "bank_name": "中国工商银行", "account": ACCOUNT},
            headers=director,
        )
    )
    decision = await ok(
        await client.post(
            f"/api/v1/children/{cid}/allowance-decisions",
            json={"action": "grant", "category": "orphan", "evidence": ["孤儿证明.pdf"], "note": NOTES},
            headers=director,
        )
    )
    url = f"/api/v1/allowance-decisions/{decision['id']}"
    await ok(await client.post(f"{url}/review", json={"approve": True, "note": "材料齐全"}, headers=supervisor))
    await ok(await client.post(f"{url}/decide", json={"approve": True}, headers=admin))
    run = await run_sign_pay(client, auth, "2026-04")
    assert run["id"] is not None
    # Another community asks for the file (pending: the reason is on record); the report goes unacknowledged past
    # its deadlines, so the escalation job climbs the ladder (steps, notifications naming the report).
    transfer = await ok(
        await client.post(
            "/api/v1/child-transfers",
            json={"id_number": ID_NUMBER, "reason": TRANSFER_REASON},
            headers=await auth("director2"),
        )
    )
    frozen_clock(T0 + dt.timedelta(hours=13))
    assert await tasks.JOBS["cases.report_ack_overdue"](db) >= 1
    frozen_clock(T0)
    export = await ok(
        await client.post("/api/v1/reports/exports", json={"kind": "coverage_all", "format": "xlsx"}, headers=admin)
    )
    # The casework around the file: every feature's records, with words that name or describe the child.
    bullying = list(PREVENTIONS["bullying"].items)
    await ok(
        await client.post(
            f"/api/v1/children/{cid}/safety-checks",
            json={
                "prevention": "bullying",
                "items": [{"code": bullying[0], "answer": "missed", "note": SAFETY_NOTE}]
                + [{"code": code, "answer": "done"} for code in bullying[1:]],
            },
            headers=director,
        )
    )
    await ok(
        await client.post(
            "/api/v1/intakes",
            json={
                "channel": "street_hotline",
                "what": CALL_TEXT,
                "urgency": 3,
                "community_id": world.communities[0],
                "caller_name": CALLER,
                "caller_phone": PHONE,
                "place": ADDRESS,
                "child_id": cid,
            },
            headers=director,
        )
    )
    conference = await ok(
        await client.post(
            f"/api/v1/children/{cid}/conferences",
            json={
                "topic": "孩子在校受欺凌的应对",
                "scheduled_at": "2026-03-10T06:00:00+00:00",
                "parties": [{"name": "欧阳老师", "organisation": SCHOOL, "kind": "school"}],
            },
            headers=director,
        )
    )
    await ok(
        await client.post(f"/api/v1/conferences/{conference['id']}/held", json={"minutes": MINUTES}, headers=director)
    )
    await ok(
        await client.post(
            f"/api/v1/children/{cid}/guardianship-assessments",
            json={"answers": {item.code: 1 for item in instrument.CURRENT.items()}, "note": ASSESSMENT_NOTE},
            headers=director,
        )
    )
    await ok(
        await client.post(
            f"/api/v1/children/{cid}/entrusted-guardianships",
            json={
                "person_name": ENTRUSTED,
                "relationship": "姑姑",
                "contact_phone": "13812345678",
                "signed_on": "2026-03-01",
            },
            headers=director,
        )
    )
    parent = await ok(
        await client.post(
            f"/api/v1/children/{cid}/parents",
            json={
                "relation": "father",
                "name": PARENT,
                "work_province": "广西壮族自治区",
                "work_city": "玉林市",
                "employer": EMPLOYER,
                "phone": "13912345678",
                "frequency": "weekly",
            },
            headers=director,
        )
    )
    await ok(
        await client.post(
            f"/api/v1/families/parents/{parent['id']}/contacts",
            json={"contacted_on": "2026-03-09", "channel": "video", "note": CONTACT_NOTE},
            headers=director,
        )
    )
    # Reads (audited), the timeline, the notifications the work sent.
    await ok(await client.get(f"/api/v1/children/{cid}", headers=director))
    await ok(await client.get(f"/api/v1/children/{cid}/timeline", headers=director))
    notes = (await ok(await client.get("/api/v1/notifications", headers=supervisor)))["items"]
    assert notes, "the work notified the street"

    # Two other files: one closed a year later (not due), one still active.
    later = (
        await ok(
            await client.post(
                "/api/v1/children", json=body(world.communities[0], name="林小雨", seq="998"), headers=director
            )
        )
    )["id"]
    active = (
        await ok(
            await client.post(
                "/api/v1/children", json=body(world.communities[0], name="林小风", seq="999"), headers=director
            )
        )
    )["id"]
    others = []
    for other in (later, active):
        others.append(
            (
                await ok(
                    await client.post(
                        f"/api/v1/children/{other}/visits",
                        json={"visited_on": "2026-03-09", "kind": "phone", "findings": "情况稳定"},
                        headers=director,
                    )
                )
            )["id"]
        )

    # Before the purge: what the file's records are stored as (ciphertexts, blind indexes), to look for after.
    cipher = field_cipher(settings)
    stored: list[str] = [*cipher.name_hashes(NAME), *cipher.lookup_hashes(ID_NUMBER)]
    async with db.session(write=False) as s:
        for table, where in (
            ("children", f"id = {cid}"),
            ("visits", f"child_id = {cid}"),
            ("needs", f"child_id = {cid}"),
            ("referrals", f"child_id = {cid}"),
            ("referral_logs", f"referral_id = {rid}"),
            ("allowance_payees", f"child_id = {cid}"),
            ("allowance_decisions", f"child_id = {cid}"),
            ("mandatory_reports", f"child_id = {cid}"),
        ):
            for row in (await s.execute(text(f"SELECT * FROM {table} WHERE {where}"))).mappings():
                stored += [v for v in row.values() if isinstance(v, str) and SEALED.fullmatch(v)]
        payments = (
            await s.scalars(select(AllowancePayment).where(AllowancePayment.person_key == f"child:{cid}"))
        ).all()
        assert [p.amount_fen for p in payments] and payments[0].person_name == NAME
        ids = {
            "child": {cid},
            "need": set((await s.scalars(select(Need.id).where(Need.child_id == cid))).all()),
            "visit": set((await s.scalars(select(Visit.id).where(Visit.child_id == cid))).all()),
            "referral": {rid},
            "report": {report["id"]},
            "decision": {decision["id"]},
        }
        assert ids["need"] >= {need["id"], report["need_id"]} and visit["id"] in ids["visit"]
        escalations = (await s.execute(text(f"SELECT id FROM escalations WHERE child_id = {cid}"))).scalars().all()
        ids["escalation"] = set(escalations)
        ids["payee"] = set((await s.execute(text(f"SELECT id FROM allowance_payees WHERE child_id = {cid}"))).scalars())
        ids["transfer"] = {transfer["id"]}
        assert ids["escalation"], "the ladder climbed for the report"
        paid = {(p.id, p.month, p.amount_fen, p.kind) for p in payments}

    # ---- closed, then the years go by
    closed_on = T0 + dt.timedelta(days=30)
    frozen_clock(closed_on)
    director = await TokenAuth(db, settings)("director")  # a token of the day
    closing = await ok(await client.patch(f"/api/v1/children/{cid}", json={"status": "closed"}, headers=director))
    assert closing["status"] == "closed"
    frozen_clock(closed_on + dt.timedelta(days=366))
    director = await TokenAuth(db, settings)("director")
    await ok(await client.patch(f"/api/v1/children/{later}", json={"status": "closed"}, headers=director))

    # The day before the period ends nothing is due; the next day the file is.
    frozen_clock(retention.add_years(closed_on, settings.retention_years) - dt.timedelta(days=1))
    async with db.session(write=False) as s:
        assert await retention.due_files(s, settings) == []
    frozen_clock(retention.add_years(closed_on, settings.retention_years) + dt.timedelta(days=1))
    dry = await retention.purge_expired(db, dry_run=True)
    assert [d.child_id for d in dry.due] == [cid] and dry.held == [] and dry.purged == []
    async with db.session(write=False) as s:
        assert await s.get(Child, cid) is not None, "a dry run changes nothing"
        view = await retention.overview(s, settings)
    assert (view.closed, view.due_now, view.years) == (2, 1, 5)
    assert view.upcoming == [
        (clock.local_date(retention.add_years(closed_on + dt.timedelta(days=366), 5)).strftime("%Y-%m"), 1)
    ]

    purged = await tasks.JOBS["cases.purge_expired"](db)
    assert purged == 1
    assert await tasks.JOBS["cases.purge_expired"](db) == 0, "a second run finds nothing"

    # ---- what stays: the payments' amounts and dates, the report's record, the other files, an audit row
    async with db.session(write=False) as s:
        assert await s.get(Child, cid) is None
        assert (await s.get(Child, later)).status == "closed"  # type: ignore[union-attr]
        assert (await s.get(Child, active)).status == "active"  # type: ignore[union-attr]
        # Their records stay with them.
        assert [v.child_id for v in (await s.scalars(select(Visit).where(Visit.id.in_(others)))).all()] == [
            later,
            active,
        ]
        kept = (await s.scalars(select(AllowancePayment).where(AllowancePayment.id.in_([p[0] for p in paid])))).all()
        assert {(p.id, p.month, p.amount_fen, p.kind) for p in kept} == paid
        assert {p.person_name for p in kept} == {retention.TOMBSTONE}
        assert {p.person_key for p in kept} == {f"purged:{p.id}" for p in kept}
        kept_report = await s.get(MandatoryReport, report["id"])
        assert kept_report is not None and kept_report.child_id is None and kept_report.police_notified
        assert kept_report.description == retention.TOMBSTONE and kept_report.place == ""
        steps = (
            await s.scalars(select(MandatoryReportStep).where(MandatoryReportStep.report_id == report["id"]))
        ).all()
        assert steps and {st.note for st in steps} == {""}
        assert await s.scalar(select(func.count()).select_from(Referral).where(Referral.child_id == cid)) == 0
        assert await s.scalar(select(func.count()).select_from(ReferralLog).where(ReferralLog.referral_id == rid)) == 0
        row = (
            await s.scalars(select(AuditEntry).where(AuditEntry.action == "purged", AuditEntry.entity_id == cid))
        ).one()
        assert row.entity == "child" and row.role == "system"
        counts = row.detail["counts"]
        assert counts["needs"] >= 2 and counts["visits"] >= 1 and counts["referrals"] == 1
        assert counts["referral_logs"] == 1 and counts["allowance_payments_anonymised"] == len(paid)
        assert counts["mandatory_reports_anonymised"] == 1 and counts["allowance_payees"] == 1
        assert counts["child_transfers"] == 1 and counts["escalations"] == len(ids["escalation"])
        assert row.detail["closed_on"] == clock.local_date(closed_on).isoformat()
        unprocessed = await s.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.processed_at.is_(None))
        )
    assert unprocessed == 0
    # The audit chain is still whole.
    from marketplace.audit import verification

    assert (await verification.run(db, trigger="cli")).ok

    # ---- the search: the scan below
    async with db.session(write=False) as s:
        found = await scan_database(s, [*CLEAR, *stored], ids)
    files = scan_files([Path(settings.data_dir), Path(settings.search_path)], [*CLEAR, *stored])
    logs = [hit for hit in CLEAR + stored if hit in caplog.text]
    copies = found.copies + files.copies + [f"log output holds {h!r}" for h in logs]
    figures.record(SUITE, "files purged", purged)
    figures.record(SUITE, "places scanned (tables, files, logs)", found.places + files.places + 1)
    figures.record(SUITE, "copies found", len(copies))
    assert copies == [], "\n".join(copies[:40])
    del export
