"""The Yuzhong closed loop on one demo child (林小雨, 福山社区, 福田街道, the demo director's community): monitoring →
report → emergency handling → guardianship assessment → assistance → intervention, over the last six weeks.

A home visit finds her alone at home; the director makes a mandatory report (guardianship lost), calls the police
(station, receipt number) and has her placed in temporary care; the supervisor and the district acknowledge; the
emergency need goes to a guardianship-assessment service, which accepts, assesses and completes; after a follow-up
visit the director closes it with the verdict "met"; guardianship passes to the state (temporary, entrusted to her
grandmother); psychological counselling is referred and under way. Rows are written with the models, at times
relative to the demo's clock, in the states the need and referral lifecycles would have left them in.

Loaded by the referrals demo (``demo.py``), first, so the demo loader loads it with the features' demos."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.audit import service as audit
from marketplace.cases.crypto import field_cipher
from marketplace.cases.models import Child, MandatoryReport, MandatoryReportStep, Need, Visit
from marketplace.cases.service import next_visit_due
from marketplace.demo import futian_data as data
from marketplace.referrals.models import Referral, ReferralLog
from marketplace.resources.models import Service, ServiceCapacity, ServiceCategory
from marketplace.settings import get_settings

CHILD_NAME = "林小雨"
COMMUNITY = data.DEMO_DIRECTOR_COMMUNITY


async def _service_for(session: AsyncSession, ids: list[int], category: str) -> tuple[int, int] | None:
    row = (
        await session.execute(
            select(Service.id, Service.organization_id)
            .join(ServiceCategory, ServiceCategory.service_id == Service.id)
            .where(Service.id.in_(ids), Service.status == "published", ServiceCategory.code == category)
            .order_by(Service.id)
            .limit(1)
        )
    ).first()
    return (int(row[0]), int(row[1])) if row is not None else None


async def _book(session: AsyncSession, service_id: int, month: str) -> None:
    row = await session.get(ServiceCapacity, (service_id, month))
    if row is None:
        session.add(ServiceCapacity(service_id=service_id, month=month, booked=1))
    else:
        row.booked += 1


async def load(session: AsyncSession, ctx: dict[str, Any]) -> int | None:
    settings = ctx.get("settings") or get_settings()
    community_id = ctx.get("communities", {}).get(COMMUNITY)
    users: dict[str, int] = ctx.get("users", {})
    service_ids: list[int] = list(ctx.get("services", []))
    assessment = await _service_for(session, service_ids, "guardianship_assessment")
    counselling = await _service_for(session, service_ids, "psych_counselling")
    if community_id is None or assessment is None or counselling is None:
        return None
    community = next(c for c in data.COMMUNITIES if c.code == COMMUNITY)
    street_id = ctx["streets"][community.street_code]
    director, supervisor, admin = users.get("director"), users.get("supervisor"), users.get("admin")
    today = clock.today()
    receipt = f"FT-JJ-{today - dt.timedelta(days=40):%Y%m%d}-0317"

    def at(days_ago: float, hour: int = 0, minute: int = 0) -> dt.datetime:
        """A time ``days_ago`` days back, at the given district hour."""
        day = today - dt.timedelta(days=int(days_ago))
        return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=clock.DISTRICT_TZ).astimezone(dt.UTC)

    c = field_cipher(settings)
    birth = dt.date(today.year - 9, 3, 12)
    taken = {h for h in (await session.scalars(select(Child.id_number_hmac))).all()}
    number = next(n for n in (data.resident_id(birth, seq) for seq in (8, 6, 4, 2, 0)) if c.lookup_hash(n) not in taken)
    last_visit = today - dt.timedelta(days=5)
    child = Child(
        community_id=community_id,
        street_id=street_id,
        name=CHILD_NAME,
        gender="female",
        birth_date=birth,
        id_number_enc=c.encrypt(number, "children.id_number"),
        id_number_hmac=c.lookup_hash(number),
        categories=["guardianship_lacking", "left_behind"],
        guardianship="family",
        risk_level="high",
        school="福田区福山小学三年级",
        household_notes="父亲外出务工后失联，母亲离家多年；祖母年迈，住在老家",
        guardian_name="林建华",
        guardian_relation="父亲",
        guardian_phone_enc=c.encrypt("13900009876", "children.guardian_phone"),
        address_enc=c.encrypt("福田区福山社区某小区3栋502", "children.address"),
        consent_to_share=True,
        consent_recorded_on=today - dt.timedelta(days=38),
        share_note="孩子内向，喜欢画画；目前由祖母照料",
        last_visit_on=last_visit,
        next_visit_due=next_visit_due(settings, "high", last_visit),
        status="active",
        created_by=director,
        created_at=at(120, 9),
    )
    session.add(child)
    await session.flush()

    # 监测预防: the routine home visit that notices she is alone.
    first_visit = Visit(
        child_id=child.id,
        visited_on=today - dt.timedelta(days=40),
        kind="home",
        findings="入户走访：孩子独自在家三天，家中无存粮，父亲电话无法接通，母亲下落不明",
        next_visit_due=today - dt.timedelta(days=33),
        created_by=director,
        created_at=at(40, 16),
    )
    session.add(first_visit)

    # 发现报告 + 应急处置: the mandatory report, the police notification, the emergency steps.
    made = at(40, 17)
    report = MandatoryReport(
        child_id=child.id,
        community_id=community_id,
        street_id=street_id,
        kind="guardianship_lost",
        description="走访发现儿童独自居住、无人照料，父母均无法联系，监护缺失",
        place="福山社区儿童家中",
        occurred_at=at(40, 15),
        status="closed",
        police_notified=True,
        police_notified_at=at(40, 17, 20),
        police_station="福田派出所",
        police_receipt_no=receipt,
        police_recorded_by=director,
        reported_by=director,
        reporter_role="child_director",
        supervisor_ack_due_at=made + dt.timedelta(hours=settings.deadlines.report_ack_supervisor_hours),
        supervisor_ack_at=at(40, 18),
        supervisor_ack_by=supervisor,
        district_ack_due_at=made + dt.timedelta(hours=settings.deadlines.report_ack_district_hours),
        district_ack_at=at(39, 9, 30),
        district_ack_by=admin,
        closed_at=at(20, 11),
        created_at=made,
    )
    session.add(report)
    await session.flush()
    steps = [
        ("police_arrived", at(40, 18, 5), "民警到场核实情况，联系孩子父亲未果"),
        ("temporary_care", at(40, 20), "经街道协调，孩子安置至区未成年人救助保护中心临时照料"),
        ("guardian_contacted", at(37, 10), "联系到老家祖母，祖母愿意来深照料"),
        ("guardianship_assessment", at(31, 15), "评估结论：父母均不能履行监护职责，祖母有照料意愿，需民政部门临时监护"),
        ("guardianship_intervention", at(20, 10), "区民政局依法临时监护，委托祖母照料，社区每周走访"),
    ]
    for kind, taken_at, note in steps:
        session.add(
            MandatoryReportStep(report_id=report.id, kind=kind, taken_at=taken_at, note=note, recorded_by=director)
        )

    # The emergency need the report opened, referred to a guardianship assessment and settled by the verdict.
    emergency = Need(
        child_id=child.id,
        street_id=street_id,
        community_id=community_id,
        category="guardianship_assessment",
        urgency=4,
        note="监护缺失，需评估监护能力并提出监护安排建议",
        status="met",
        emergency=True,
        report_id=report.id,
        created_by=director,
        created_at=at(40, 17, 5),
    )
    session.add(emergency)
    await session.flush()
    report.need_id = emergency.id
    follow_up = Visit(
        child_id=child.id,
        visited_on=today - dt.timedelta(days=24),
        kind="follow_up",
        findings="评估服务完成后回访：孩子已由祖母接回家中照料，情绪逐渐稳定",
        next_visit_due=today - dt.timedelta(days=10),
        created_by=director,
        created_at=at(24, 15),
    )
    session.add(follow_up)
    await session.flush()
    closed_at = at(23, 10)
    emergency.settled_at = emergency.met_at = closed_at
    emergency.settled_by = director
    sid, oid = assessment
    assessed = Referral(
        need_id=emergency.id,
        child_id=child.id,
        service_id=sid,
        organization_id=oid,
        street_id=street_id,
        community_id=community_id,
        status="closed",
        share_note="紧急：监护缺失，孩子已临时安置，请尽快开展监护评估",
        plan={},
        sent_by=director,
        sent_at=at(40, 19),
        accepted_at=at(40, 21),
        booked_month=clock.month_key(at(40, 21)),
        started_at=at(39, 10),
        completed_at=at(28, 17),
        outcome="got_help",
        outcome_note="完成监护能力评估，建议民政部门临时监护并委托祖母照料",
        verdict="met",
        verdict_note="回访确认监护安排已落实，孩子得到稳定照料",
        verdict_by=director,
        follow_up_visit_id=follow_up.id,
        closed_at=closed_at,
    )
    session.add(assessed)
    await _book(session, sid, clock.month_key(at(40, 21)))

    # 监护干预: guardianship passes to the state, as the file's update would record it.
    child.guardianship = "temporary_state"
    # Through the audit service, like every row: appended to the audit log's hash chain.
    await audit.insert_rows(
        session,
        [
            {
                "at": at(20, 10, 30),
                "user_id": director,
                "username": "director",
                "role": "child_director",
                "action": "update",
                "entity": "child",
                "entity_id": child.id,
                "fields": ["guardianship"],
                "detail": {"via": "demo"},
            }
        ],
    )

    # 救助帮扶: psychological counselling, accepted and under way.
    support = Need(
        child_id=child.id,
        street_id=street_id,
        community_id=community_id,
        category="psych_counselling",
        urgency=3,
        note="经历独居与安置后情绪低落、不愿与人交流，需要心理疏导",
        status="in_service",
        created_by=director,
        created_at=at(22, 9),
    )
    session.add(support)
    await session.flush()
    sid, oid = counselling
    accepted = at(21, 15)
    counselled = Referral(
        need_id=support.id,
        child_id=child.id,
        service_id=sid,
        organization_id=oid,
        street_id=street_id,
        community_id=community_id,
        status="in_service",
        share_note="孩子内向，喜欢画画；目前由祖母照料",
        plan={},
        sent_by=director,
        sent_at=at(22, 10),
        accepted_at=accepted,
        booked_month=clock.month_key(accepted),
        started_at=at(19, 14),
    )
    session.add(counselled)
    await _book(session, sid, clock.month_key(accepted))
    await session.flush()
    session.add(
        ReferralLog(
            referral_id=counselled.id,
            delivered_on=today - dt.timedelta(days=19),
            minutes=60,
            note="首次心理疏导：通过绘画建立关系",
            created_at=at(19, 17),
        )
    )
    # The last routine visit.
    session.add(
        Visit(
            child_id=child.id,
            visited_on=last_visit,
            kind="home",
            findings="孩子与祖母同住，按时上学，情绪好转",
            next_visit_due=child.next_visit_due,
            created_by=director,
            created_at=at(5, 16),
        )
    )
    await session.flush()
    ctx["loop_child"] = child.id
    return child.id
