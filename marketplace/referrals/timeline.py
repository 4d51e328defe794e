"""One child's closed loop, told in the six stages of the Yuzhong loop (``LOOP_STAGES``): monitoring (visits,
overdue-visit escalations) → report (mandatory reports and their acknowledgements) → emergency handling (police
notification, emergency steps, emergency needs) → guardianship assessment (its needs, referrals and steps) →
assistance (other needs and referrals, from sending to the director's verdict) → intervention (guardianship
intervention steps and recorded changes of guardianship).

Read with the file's own scope (``cases.visible_child``) and one audit row; one query per source table."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from marketplace import clock
from marketplace.audit import service as audit
from marketplace.audit.models import AuditEntry
from marketplace.auth.models import User
from marketplace.auth.principal import Principal
from marketplace.cases import escalation
from marketplace.cases import service as cases
from marketplace.cases.loop import LoopEvent as Event
from marketplace.cases.loop import LoopSource
from marketplace.cases.models import Child, Escalation, MandatoryReport, MandatoryReportStep, Need, Visit
from marketplace.cases.taxonomy import (
    ESCALATION_KINDS,
    ESCALATION_LEVELS,
    GUARDIANSHIP,
    LOOP_STAGES,
    NEED_STATUSES,
    REPORT_KINDS,
    REPORT_STEP_KINDS,
    URGENCY,
    VERDICTS,
    VISIT_KINDS,
)
from marketplace.conferences import loop as conference_loop
from marketplace.families.loop import loop_events as families_events
from marketplace.guardianship.loop import loop_events as guardianship_events
from marketplace.intake.loop import loop_events as intake_events
from marketplace.referrals.loop_schemas import EventOut, StageOut, TimelineChild, TimelineOut
from marketplace.referrals.models import Referral
from marketplace.referrals.taxonomy import OUTCOMES
from marketplace.resources.models import Organization, Service
from marketplace.resources.taxonomy import SERVICE_CATEGORIES
from marketplace.safety import loop as safety_loop

STAGE_ORDER = {code: i for i, code in enumerate(LOOP_STAGES)}
ASSESSMENT_CATEGORY = "guardianship_assessment"
# A visit has a date only: it is placed at this local hour of its day.
VISIT_HOUR = dt.time(10, 0)


# The events of the features above the files, in the order they are read (each ``cases.loop.LoopSource``).
SOURCES: tuple[LoopSource, ...] = (
    intake_events,
    safety_loop.loop_events,
    families_events,
    guardianship_events,
    conference_loop.loop_events,
)


def out(e: Event) -> EventOut:
    return EventOut(
        at=e.at,
        stage=e.stage,
        stage_label=LOOP_STAGES[e.stage],
        kind=e.kind,
        title=e.title,
        detail=e.detail,
        entity=e.entity,
        entity_id=e.entity_id,
    )


def _aware(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)


def _visit_at(on: dt.date) -> dt.datetime:
    return dt.datetime.combine(on, VISIT_HOUR, tzinfo=clock.DISTRICT_TZ).astimezone(dt.UTC)


def _category(code: str) -> str:
    return SERVICE_CATEGORIES.get(code, code)


def _need_stage(need: Need) -> str:
    return "assessment" if need.category == ASSESSMENT_CATEGORY else "assistance"


def _join(*parts: str | None) -> str:
    return "；".join(p for p in parts if p)


async def build(session: AsyncSession, principal: Principal, child_id: int) -> TimelineOut:
    child = await cases.visible_child(session, principal, child_id)
    events = await events_of(session, child)
    await audit.record_read(session, principal, "read", "child", [child.id], ["timeline"])
    return TimelineOut(
        child=TimelineChild(id=child.id, name=child.name), stages=stages_of(events), events=[out(e) for e in events]
    )


def stages_of(events: list[Event]) -> list[StageOut]:
    first: dict[str, dt.datetime] = {}
    for e in events:
        if e.stage not in first or e.at < first[e.stage]:
            first[e.stage] = e.at
    return [
        StageOut(code=code, label=label, reached=code in first, first_at=first.get(code))
        for code, label in LOOP_STAGES.items()
    ]


async def events_of(session: AsyncSession, child: Child) -> list[Event]:
    """Every event of the child's loop, oldest first (ties in loop order)."""
    events: list[Event] = []
    add = events.append

    for v in (await session.scalars(select(Visit).where(Visit.child_id == child.id).order_by(Visit.id))).all():
        add(
            Event(
                _visit_at(v.visited_on),
                "monitoring",
                "visit",
                VISIT_KINDS.get(v.kind, v.kind),
                v.findings,
                "visit",
                v.id,
            )
        )

    reports = list(
        (
            await session.scalars(
                select(MandatoryReport).where(MandatoryReport.child_id == child.id).order_by(MandatoryReport.id)
            )
        ).all()
    )
    for r in reports:
        add(
            Event(
                r.created_at,
                "report",
                "report",
                f"强制报告：{REPORT_KINDS.get(r.kind, r.kind)}",
                _join(r.description, f"地点：{r.place}" if r.place else None),
                "mandatory_report",
                r.id,
            )
        )
        if r.supervisor_ack_at is not None:
            add(Event(r.supervisor_ack_at, "report", "report_ack", "街道督导员已签收", "", "mandatory_report", r.id))
        if r.district_ack_at is not None:
            add(Event(r.district_ack_at, "report", "report_ack", "区民政局已签收", "", "mandatory_report", r.id))
        if r.police_notified_at is not None or r.police_notified:
            add(
                Event(
                    r.police_notified_at or r.created_at,
                    "emergency",
                    "police_notified",
                    "已报警",
                    _join(
                        f"接警单位：{r.police_station}" if r.police_station else None,
                        f"回执号：{r.police_receipt_no}" if r.police_receipt_no else None,
                    ),
                    "mandatory_report",
                    r.id,
                )
            )
        if r.closed_at is not None:
            add(Event(r.closed_at, "report", "report_closed", "强制报告已办结", "", "mandatory_report", r.id))
    report_ids = [r.id for r in reports]
    if report_ids:
        steps = (
            await session.scalars(
                select(MandatoryReportStep)
                .where(MandatoryReportStep.report_id.in_(report_ids))
                .order_by(MandatoryReportStep.id)
            )
        ).all()
        # The police notification is told once, from the report's record of it (station, receipt number).
        recorded = {r.id for r in reports if r.police_notified_at is not None or r.police_notified}
        for s in steps:
            if s.kind == "police_notified" and s.report_id in recorded:
                continue
            stage = {"guardianship_assessment": "assessment", "guardianship_intervention": "intervention"}.get(
                s.kind, "emergency"
            )
            add(
                Event(
                    s.taken_at,
                    stage,
                    "report_step",
                    REPORT_STEP_KINDS.get(s.kind, s.kind),
                    s.note,
                    "mandatory_report_step",
                    s.id,
                )
            )

    needs = {n.id: n for n in (await session.scalars(select(Need).where(Need.child_id == child.id))).all()}
    for n in sorted(needs.values(), key=lambda n: n.id):
        detail = _join(f"紧急程度：{URGENCY.get(n.urgency, str(n.urgency))}", n.note)
        if n.emergency:
            add(
                Event(
                    n.created_at, "emergency", "need_opened", f"紧急需求：{_category(n.category)}", detail, "need", n.id
                )
            )
        else:
            add(
                Event(
                    n.created_at,
                    _need_stage(n),
                    "need_opened",
                    f"登记需求：{_category(n.category)}",
                    detail,
                    "need",
                    n.id,
                )
            )
        if n.status == "withdrawn" and n.settled_at is not None:
            add(Event(n.settled_at, _need_stage(n), "need_settled", NEED_STATUSES["withdrawn"], "", "need", n.id))

    rows = (
        await session.execute(
            select(Referral, Service.title, Organization.name)
            .join(Service, Service.id == Referral.service_id)
            .join(Organization, Organization.id == Referral.organization_id)
            .where(Referral.child_id == child.id)
            .order_by(Referral.id)
        )
    ).all()
    referral_stage: dict[int, str] = {}
    for ref, title, org in rows:
        need = needs.get(ref.need_id)
        stage = _need_stage(need) if need is not None else "assistance"
        referral_stage[ref.id] = stage
        what = f"{_category(need.category)} → {title}" if need is not None else title

        def on(at: dt.datetime | None, kind: str, label: str, detail: str = "", *, _ref: Referral = ref) -> None:
            if at is not None:
                add(Event(at, referral_stage[_ref.id], kind, label, detail, "referral", _ref.id))

        on(ref.sent_at, "referral_sent", f"转介：{what}", f"承接机构：{org}")
        on(ref.accepted_at, "referral_accepted", "机构已接收转介", org)
        on(ref.declined_at, "referral_declined", "机构拒绝转介", ref.decline_reason or "")
        on(ref.started_at, "referral_started", "开始服务", title)
        on(
            ref.completed_at,
            "referral_completed",
            "服务完成",
            _join(f"机构建议：{OUTCOMES.get(ref.outcome, ref.outcome)}" if ref.outcome else None, ref.outcome_note),
        )
        on(
            ref.closed_at,
            "referral_closed",
            "回访后结案",
            _join(f"主任认定：{VERDICTS.get(ref.verdict, ref.verdict)}" if ref.verdict else None, ref.verdict_note),
        )
        on(ref.revoked_at, "referral_revoked", "转介已撤回", ref.revoke_reason or "")

    # Escalations: of the child (overdue visits), of its referrals and of its reports.
    clauses: list[ColumnElement[bool]] = [
        Escalation.child_id == child.id,
        and_(Escalation.entity == "child", Escalation.entity_id == child.id),
    ]
    if referral_stage:
        clauses.append(and_(Escalation.entity == "referral", Escalation.entity_id.in_(list(referral_stage))))
    if report_ids:
        clauses.append(and_(Escalation.entity == "mandatory_report", Escalation.entity_id.in_(report_ids)))
    ladder = list((await session.scalars(select(Escalation).where(or_(*clauses)).order_by(Escalation.id))).all())
    # What the supervisor or the district did about them (acknowledged, reminded, reassigned), on the same stage.
    acted = await escalation.actions_of(session, [e.id for e in ladder])
    people = {a.target_id for acts in acted.values() for a in acts if a.target_id} | {
        a.actor_id for acts in acted.values() for a in acts if a.actor_id
    }
    names: dict[int, str] = {}
    if people:
        names = dict((await session.execute(select(User.id, User.display_name).where(User.id.in_(people)))).all())
    for esc in ladder:
        if esc.entity == "referral":
            stage = referral_stage.get(esc.entity_id, "assistance")
        elif esc.entity == "mandatory_report" or esc.kind == "report_ack":
            stage = "report"
        elif esc.entity == "child" or esc.kind == "visit":
            stage = "monitoring"
        else:
            stage = "assistance"
        add(
            Event(
                esc.created_at,
                stage,
                "escalation",
                ESCALATION_KINDS.get(esc.kind, esc.kind),
                ESCALATION_LEVELS.get(esc.level, ""),
                esc.entity,
                esc.entity_id,
            )
        )
        for act in acted.get(esc.id, []):
            add(
                Event(
                    act.created_at,
                    stage,
                    f"escalation_{act.action}",
                    f"{ESCALATION_KINDS.get(esc.kind, esc.kind)}：{escalation.ACTION_LABELS.get(act.action, act.action)}",
                    _join(
                        names.get(act.actor_id) if act.actor_id else None,
                        f"改派给 {names.get(act.target_id, '')}" if act.target_id else None,
                        act.note,
                    ),
                    esc.entity,
                    esc.entity_id,
                )
            )

    # Changes of guardianship, as the audit log recorded the file's updates.
    changes = (
        await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.entity == "child", AuditEntry.entity_id == child.id, AuditEntry.action == "update")
            .order_by(AuditEntry.id)
        )
    ).all()
    changed = [a for a in changes if "guardianship" in (a.fields or [])]
    for i, a in enumerate(changed):
        last = i == len(changed) - 1
        detail = f"现为：{GUARDIANSHIP.get(child.guardianship, child.guardianship)}" if last else ""
        add(Event(a.at, "intervention", "guardianship_changed", "监护方式变更", detail, "child", child.id))

    for source in SOURCES:
        events.extend(await source(session, child))

    events = [Event(_aware(e.at), e.stage, e.kind, e.title, e.detail, e.entity, e.entity_id) for e in events]
    events.sort(key=lambda e: (e.at, STAGE_ORDER[e.stage]))
    return events
