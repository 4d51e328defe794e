"""Mandatory reports (强制报告) as records.

Who reported what and when; the police notification (time, station, receipt number) recorded by the director;
the emergency handling steps; the street supervisor's and the district's acknowledgements, each due within hours
of the report (``Settings.deadlines.report_ack_*_hours``; the ``cases.report_ack_overdue`` job escalates a late
one). A report is made for a filed child, which opens the urgency-4 emergency need at once and puts the child in
the critical risk tier, or for an unidentified child (a name or a description, and the place they were found),
which is linked to a file later and opens the need then.

Scope: a report belongs to a community and its street (the child's, or for an unidentified child the reporter's).
It is read by that community's director, the street's supervisor, the district and the auditor, like the child's
file (``service.can_read``); every read writes audit rows. Linking moves a report into the file's community (the
file must be in the report's street), so the child's own director reads it from then on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Final, NoReturn

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock, outbox
from marketplace.audit import service as audit
from marketplace.auth.principal import Principal
from marketplace.cases import notifications
from marketplace.cases.models import Child, MandatoryReport, MandatoryReportStep, Need, Notification
from marketplace.cases.report_schemas import (
    AckOut,
    CloseIn,
    LinkIn,
    MandatoryReportIn,
    PoliceIn,
    PoliceOut,
    ReportIn,
    ReportOut,
    StepIn,
    StepOut,
)
from marketplace.cases.service import can_read, load_child, next_visit_due, scope_clause
from marketplace.cases.taxonomy import REPORT_KINDS, REPORT_NEED_CATEGORY, REPORT_STATUSES, REPORT_STEP_KINDS
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.geography.models import Community
from marketplace.pagination import fetch_page
from marketplace.resources.taxonomy import SERVICE_CATEGORIES
from marketplace.settings import Settings

TOPIC: Final = "cases.mandatory_report"
ENTITY: Final = "mandatory_report"
# A time sent from a device whose clock runs a little fast is not "in the future".
CLOCK_SKEW: Final = dt.timedelta(minutes=5)
# What a read of a report shows, as written to the audit log.
READ_FIELDS: Final = (
    "kind",
    "description",
    "subject_name",
    "subject_description",
    "place",
    "police",
    "steps",
    "acknowledgements",
)
ACK_LABELS: Final = {"supervisor": "街道督导员签收", "district": "区民政局签收"}


def not_found(report_id: int) -> NotFound:
    return NotFound(f"强制报告 {report_id} 不存在 (mandatory report not found)")


def can_write(principal: Principal, community_id: int, street_id: int) -> bool:
    """The community's director or the street's supervisor: who reports and records the handling."""
    if principal.role == "child_director":
        return principal.community_id == community_id
    if principal.role == "child_supervisor":
        return principal.street_id == street_id
    return False


def _refuse(principal: Principal, report: MandatoryReport, message: str) -> NoReturn:
    """403 for someone who may read the report, 404 for anyone else."""
    if can_read(principal, report.community_id, report.street_id):
        raise Forbidden(message)
    raise not_found(report.id)


def _check_time(field: str, when: dt.datetime, report: MandatoryReport | None = None) -> None:
    if when > clock.now() + CLOCK_SKEW:
        raise Invalid.field(field, "时间不能晚于现在 (time in the future)")
    if report is not None and report.occurred_at is not None and when < report.occurred_at:
        raise Invalid.field(field, "时间早于报告事件发生时间 (before the reported event occurred)")


def _category(kind: str, category: str | None) -> str:
    chosen = category or REPORT_NEED_CATEGORY[kind]
    if chosen not in SERVICE_CATEGORIES:
        raise Invalid.field("category", f"未知服务类别 '{chosen}' (unknown service category)")
    return chosen


async def recipients_of(session: AsyncSession, street_id: int) -> list[int]:
    """Who hears of a report at once: the street's supervisors and the district."""
    people = await notifications.street_supervisors(session, street_id)
    people += await notifications.district_admins(session)
    return list(dict.fromkeys(people))


# ---------------------------------------------------------------- making a report


async def _open_emergency(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    report: MandatoryReport,
    child: Child,
    category: str,
) -> Need:
    """The urgency-4 emergency need of a report, and the child raised to the critical risk tier."""
    need = Need(
        child_id=child.id,
        street_id=child.street_id,
        community_id=child.community_id,
        category=category,
        urgency=4,
        note=f"强制报告：{REPORT_KINDS[report.kind]}。{report.description}"[:5000],
        status="open",
        emergency=True,
        report_id=report.id,
        created_by=principal.user_id,
    )
    session.add(need)
    await session.flush()
    report.need_id = need.id
    # A report puts the child in the highest risk tier: the next visit is due within the shortest interval.
    if child.risk_level != "critical":
        child.risk_level = "critical"
        child.next_visit_due = min(child.next_visit_due, next_visit_due(settings, "critical", clock.today()))
    return need


def _new_report(
    principal: Principal,
    settings: Settings,
    *,
    community_id: int,
    street_id: int,
    child_id: int | None,
    kind: str,
    description: str,
    police_notified: bool,
    occurred_at: dt.datetime | None,
    place: str = "",
    subject_name: str = "",
    subject_description: str = "",
) -> MandatoryReport:
    now = clock.now()
    if occurred_at is not None:
        _check_time("occurred_at", occurred_at)
    d = settings.deadlines
    return MandatoryReport(
        child_id=child_id,
        community_id=community_id,
        street_id=street_id,
        kind=kind,
        description=description,
        subject_name=subject_name,
        subject_description=subject_description,
        place=place,
        occurred_at=occurred_at,
        status="open",
        police_notified=police_notified,
        reported_by=principal.user_id,
        reporter_role=principal.role,
        supervisor_ack_due_at=now + dt.timedelta(hours=d.report_ack_supervisor_hours),
        district_ack_due_at=now + dt.timedelta(hours=d.report_ack_district_hours),
        created_at=now,
    )


async def _for_child(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    child_id: int,
    *,
    kind: str,
    description: str,
    police_notified: bool,
    category: str | None,
    occurred_at: dt.datetime | None,
    place: str,
) -> tuple[MandatoryReport, list[int]]:
    child = await load_child(session, child_id, lock=True)
    if not can_write(principal, child.community_id, child.street_id):
        if can_read(principal, child.community_id, child.street_id):
            raise Forbidden("强制报告由儿童主任或督导员提交 (only the child's director or supervisor reports)")
        raise NotFound(f"儿童档案 {child_id} 不存在 (child not found)")
    chosen = _category(kind, category)
    report = _new_report(
        principal,
        settings,
        community_id=child.community_id,
        street_id=child.street_id,
        child_id=child.id,
        kind=kind,
        description=description,
        police_notified=police_notified,
        occurred_at=occurred_at,
        place=place,
    )
    session.add(report)
    await session.flush()
    await _open_emergency(session, principal, settings, report, child, chosen)
    outbox.emit(session, TOPIC, {"report_id": report.id})
    await audit.record(session, principal, "report", "child", child.id, ["mandatory_report"], {"kind": kind})
    await audit.record(session, principal, "create", ENTITY, report.id, READ_FIELDS, {"child_id": child.id})
    return report, await recipients_of(session, child.street_id)


async def create_for_child(
    session: AsyncSession, principal: Principal, settings: Settings, child_id: int, data: ReportIn
) -> tuple[MandatoryReport, list[int]]:
    """``POST /api/v1/children/{id}/reports``: a report for a filed child; returns it and who is told."""
    return await _for_child(
        session,
        principal,
        settings,
        child_id,
        kind=data.kind,
        description=data.description,
        police_notified=data.police_notified,
        category=data.category,
        occurred_at=data.occurred_at,
        place=data.place.strip(),
    )


async def create(
    session: AsyncSession, principal: Principal, settings: Settings, data: MandatoryReportIn
) -> tuple[MandatoryReport, list[int]]:
    """A report for a filed child (``child_id``) or an unidentified child; returns it and who is told."""
    if data.child_id is not None:
        return await _for_child(
            session,
            principal,
            settings,
            data.child_id,
            kind=data.kind,
            description=data.description,
            police_notified=data.police_notified,
            category=data.category,
            occurred_at=data.occurred_at,
            place=data.place,
        )
    principal.require("child_director", "child_supervisor")
    if principal.role == "child_director":
        if data.community_id is not None and data.community_id != principal.community_id:
            raise Forbidden("只能为本社区提交强制报告 (only for your own community)")
        community = await session.get(Community, principal.community_id) if principal.community_id else None
        if community is None:
            raise Forbidden("账号未关联社区 (the account has no community)")
    else:
        if data.community_id is None:
            raise Invalid.field("community_id", "请选择儿童被发现地所属社区 (community_id is required)")
        community = await session.get(Community, data.community_id)
        if community is None or community.street_id != principal.street_id:
            raise Forbidden("只能为本街道的社区提交强制报告 (only for a community of your street)")
    report = _new_report(
        principal,
        settings,
        community_id=community.id,
        street_id=community.street_id,
        child_id=None,
        kind=data.kind,
        description=data.description,
        police_notified=data.police_notified,
        occurred_at=data.occurred_at,
        place=data.place,
        subject_name=data.subject_name,
        subject_description=data.subject_description,
    )
    session.add(report)
    await session.flush()
    outbox.emit(session, TOPIC, {"report_id": report.id})
    await audit.record(session, principal, "create", ENTITY, report.id, READ_FIELDS, {"unidentified": True})
    return report, await recipients_of(session, community.street_id)


# ---------------------------------------------------------------- reading


async def load(session: AsyncSession, report_id: int, *, lock: bool = False) -> MandatoryReport:
    stmt = select(MandatoryReport).where(MandatoryReport.id == report_id)
    if lock:
        stmt = stmt.with_for_update()
    report = await session.scalar(stmt)
    if report is None:
        raise not_found(report_id)
    return report


async def visible(
    session: AsyncSession, principal: Principal, report_id: int, *, lock: bool = False
) -> MandatoryReport:
    report = await load(session, report_id, lock=lock)
    if not can_read(principal, report.community_id, report.street_id):
        raise not_found(report_id)
    return report


async def audit_read(
    session: AsyncSession, principal: Principal, action: str, reports: Sequence[MandatoryReport]
) -> None:
    """A read of reports is a read of children's data: one row per report, and one per linked child."""
    await audit.record_read(session, principal, action, ENTITY, [r.id for r in reports], READ_FIELDS)
    children = list(dict.fromkeys(r.child_id for r in reports if r.child_id is not None))
    if children:
        await audit.record_read(session, principal, action, "child", children, ["mandatory_report"])


async def read(session: AsyncSession, principal: Principal, report_id: int) -> MandatoryReport:
    report = await visible(session, principal, report_id)
    await audit_read(session, principal, "read", [report])
    return report


async def list_reports(
    session: AsyncSession,
    principal: Principal,
    *,
    status: str | None = None,
    child_id: int | None = None,
    unlinked: bool | None = None,
    limit: int,
    offset: int,
) -> tuple[list[MandatoryReport], int]:
    """The reports ``principal`` may read, newest first, audited. Roles without access to children get 403."""
    stmt = select(MandatoryReport)
    clause = scope_clause(principal, MandatoryReport.community_id, MandatoryReport.street_id)
    if clause is not None:
        stmt = stmt.where(clause)
    if status:
        stmt = stmt.where(MandatoryReport.status == status)
    if child_id:
        stmt = stmt.where(MandatoryReport.child_id == child_id)
    if unlinked is True:
        stmt = stmt.where(MandatoryReport.child_id.is_(None))
    elif unlinked is False:
        stmt = stmt.where(MandatoryReport.child_id.is_not(None))
    rows, total = await fetch_page(
        session, stmt, MandatoryReport.created_at.desc(), MandatoryReport.id.desc(), limit=limit, offset=offset
    )
    await audit_read(session, principal, "list", rows)
    return rows, total


async def steps_of(session: AsyncSession, report_ids: Sequence[int]) -> dict[int, list[MandatoryReportStep]]:
    out: dict[int, list[MandatoryReportStep]] = {i: [] for i in report_ids}
    if not report_ids:
        return out
    rows = await session.scalars(
        select(MandatoryReportStep)
        .where(MandatoryReportStep.report_id.in_(list(report_ids)))
        .order_by(MandatoryReportStep.taken_at, MandatoryReportStep.id)
    )
    for step in rows.all():
        out[step.report_id].append(step)
    return out


async def notified_of(session: AsyncSession, report_ids: Sequence[int]) -> dict[int, list[int]]:
    """Who was told of each report (the ``cases.mandatory_report`` handler's notifications)."""
    out: dict[int, list[int]] = {i: [] for i in report_ids}
    if not report_ids:
        return out
    rows = await session.execute(
        select(Notification.entity_id, Notification.recipient_id)
        .where(
            Notification.kind == "mandatory_report",
            Notification.entity == ENTITY,
            Notification.entity_id.in_(list(report_ids)),
        )
        .order_by(Notification.id)
    )
    for rid, uid in rows.all():
        out[int(rid)].append(int(uid))
    return out


def acknowledgements(r: MandatoryReport, now: dt.datetime) -> list[AckOut]:
    out = []
    for level, due, at, by in (
        ("supervisor", r.supervisor_ack_due_at, r.supervisor_ack_at, r.supervisor_ack_by),
        ("district", r.district_ack_due_at, r.district_ack_at, r.district_ack_by),
    ):
        overdue = at is None and due is not None and now > due and r.status != "closed"
        late = overdue or (at is not None and due is not None and at > due)
        out.append(
            AckOut(
                level=level,  # type: ignore[arg-type]
                label=ACK_LABELS[level],
                due_at=due,
                at=at,
                by=by,
                late=late,
                overdue=overdue,
            )
        )
    return out


async def present(
    session: AsyncSession, reports: Sequence[MandatoryReport], notified: dict[int, list[int]] | None = None
) -> list[ReportOut]:
    """Reports as the API shows them (the caller has checked scope and written the audit rows)."""
    ids = [r.id for r in reports]
    steps = await steps_of(session, ids)
    told = await notified_of(session, ids)
    now = clock.now()
    out = []
    for r in reports:
        police = None
        if r.police_notified_at is not None:
            police = PoliceOut(
                notified_at=r.police_notified_at,
                station=r.police_station or "",
                receipt_number=r.police_receipt_no or "",
                recorded_by=r.police_recorded_by,
            )
        out.append(
            ReportOut(
                id=r.id,
                child_id=r.child_id,
                kind=r.kind,
                kind_label=REPORT_KINDS.get(r.kind, r.kind),
                description=r.description,
                police_notified=r.police_notified,
                need_id=r.need_id,
                notified_user_ids=(notified or {}).get(r.id) or told[r.id],
                created_at=r.created_at,
                community_id=r.community_id,
                street_id=r.street_id,
                subject_name=r.subject_name,
                subject_description=r.subject_description,
                place=r.place,
                occurred_at=r.occurred_at,
                status=r.status,
                status_label=REPORT_STATUSES.get(r.status, r.status),
                reported_by=r.reported_by,
                reporter_role=r.reporter_role,
                police=police,
                steps=[
                    StepOut(
                        id=s.id,
                        kind=s.kind,
                        kind_label=REPORT_STEP_KINDS.get(s.kind, s.kind),
                        taken_at=s.taken_at,
                        note=s.note,
                        recorded_by=s.recorded_by,
                        created_at=s.created_at,
                    )
                    for s in steps[r.id]
                ],
                acknowledgements=acknowledgements(r, now),
                linked_at=r.linked_at,
                linked_by=r.linked_by,
                closed_at=r.closed_at,
            )
        )
    return out


# ---------------------------------------------------------------- handling


async def _writable(session: AsyncSession, principal: Principal, report_id: int) -> MandatoryReport:
    report = await load(session, report_id, lock=True)
    if not can_write(principal, report.community_id, report.street_id):
        _refuse(principal, report, "只有本社区儿童主任或本街道督导员可记录处置 (only the director or supervisor)")
    if report.status == "closed":
        raise Conflict("强制报告已办结 (the report is closed)")
    return report


async def record_police(session: AsyncSession, principal: Principal, report_id: int, data: PoliceIn) -> MandatoryReport:
    """The police notification: when, which station, the receipt number. Recorded once (a record, not a draft)."""
    report = await _writable(session, principal, report_id)
    if report.police_notified_at is not None:
        raise Conflict("报警信息已登记 (the police notification is already recorded)")
    _check_time("notified_at", data.notified_at, report)
    report.police_notified = True
    report.police_notified_at = data.notified_at
    report.police_station = data.station
    report.police_receipt_no = data.receipt_number
    report.police_recorded_by = principal.user_id
    # The notification is an emergency handling step too: the timeline reads it from the steps.
    session.add(
        MandatoryReportStep(
            report_id=report.id,
            kind="police_notified",
            taken_at=data.notified_at,
            note=f"{data.station}，回执 {data.receipt_number}",
            recorded_by=principal.user_id,
        )
    )
    await session.flush()
    await audit.record(session, principal, "police", ENTITY, report.id, ["police"])
    return report


async def add_step(session: AsyncSession, principal: Principal, report_id: int, data: StepIn) -> MandatoryReport:
    report = await _writable(session, principal, report_id)
    _check_time("taken_at", data.taken_at, report)
    session.add(
        MandatoryReportStep(
            report_id=report.id,
            kind=data.kind,
            taken_at=data.taken_at,
            note=data.note.strip(),
            recorded_by=principal.user_id,
        )
    )
    await session.flush()
    await audit.record(session, principal, "step", ENTITY, report.id, ["steps"], {"kind": data.kind})
    return report


async def acknowledge(session: AsyncSession, principal: Principal, report_id: int) -> MandatoryReport:
    """The street's supervisor acknowledges at the supervisor level, a district admin at the district level; the
    report is acknowledged when both are in."""
    report = await load(session, report_id, lock=True)
    if principal.role == "child_supervisor" and principal.street_id == report.street_id:
        level = "supervisor"
    elif principal.role == "district_admin":
        level = "district"
    else:
        _refuse(principal, report, "只有本街道督导员或区民政局可签收 (only the street's supervisor or the district)")
    if report.status == "closed":
        raise Conflict("强制报告已办结 (the report is closed)")
    now = clock.now()
    if level == "supervisor":
        if report.supervisor_ack_at is not None:
            raise Conflict("街道督导员已签收 (already acknowledged by the supervisor)")
        report.supervisor_ack_at, report.supervisor_ack_by = now, principal.user_id
    else:
        if report.district_ack_at is not None:
            raise Conflict("区民政局已签收 (already acknowledged by the district)")
        report.district_ack_at, report.district_ack_by = now, principal.user_id
    if report.supervisor_ack_at is not None and report.district_ack_at is not None:
        report.status = "acknowledged"
    await session.flush()
    await audit.record(session, principal, "acknowledge", ENTITY, report.id, ["acknowledgements"], {"level": level})
    return report


async def link(
    session: AsyncSession, principal: Principal, settings: Settings, report_id: int, data: LinkIn
) -> MandatoryReport:
    """Link an unidentified child's report to a file: the report moves to the file's community, the emergency need
    opens and the child is raised to the critical risk tier. By the file's director or its street's supervisor;
    the file must be in the report's street."""
    report = await load(session, report_id, lock=True)
    street_director = principal.role == "child_director" and principal.street_id == report.street_id
    if not (can_read(principal, report.community_id, report.street_id) or street_director):
        raise not_found(report_id)
    child = await load_child(session, data.child_id, lock=True)
    if not can_read(principal, child.community_id, child.street_id):
        raise NotFound(f"儿童档案 {data.child_id} 不存在 (child not found)")
    if not can_write(principal, child.community_id, child.street_id):
        raise Forbidden("只有档案所属社区儿童主任或街道督导员可关联 (only the file's director or supervisor links)")
    if report.child_id is not None:
        raise Conflict("强制报告已关联儿童档案 (already linked to a file)")
    if report.status == "closed":
        raise Conflict("强制报告已办结 (the report is closed)")
    if child.street_id != report.street_id:
        raise Invalid.field("child_id", "儿童档案不在报告所属街道 (the file is not in the report's street)")
    if child.status != "active":
        raise Conflict("档案已结案 (the file is closed)")
    category = _category(report.kind, data.category)
    report.child_id = child.id
    report.community_id = child.community_id
    report.linked_at = clock.now()
    report.linked_by = principal.user_id
    await _open_emergency(session, principal, settings, report, child, category)
    await session.flush()
    outbox.emit(session, TOPIC, {"report_id": report.id, "linked": True})
    await audit.record(session, principal, "link", ENTITY, report.id, ["child_id"], {"child_id": child.id})
    await audit.record(session, principal, "report", "child", child.id, ["mandatory_report"], {"kind": report.kind})
    return report


async def close(session: AsyncSession, principal: Principal, report_id: int, data: CloseIn) -> MandatoryReport:
    """Close an acknowledged report (the director, the street's supervisor or the district)."""
    report = await load(session, report_id, lock=True)
    if not (can_write(principal, report.community_id, report.street_id) or principal.role == "district_admin"):
        _refuse(principal, report, "只有儿童主任、督导员或区民政局可办结 (only the director, supervisor or district)")
    if report.status == "closed":
        raise Conflict("强制报告已办结 (the report is already closed)")
    if report.status != "acknowledged":
        raise Conflict("强制报告尚未经街道和区签收，不能办结 (not yet acknowledged by the street and the district)")
    report.status = "closed"
    report.closed_at = clock.now()
    await session.flush()
    detail = {"note": data.note.strip()} if data.note.strip() else None
    await audit.record(session, principal, "close", ENTITY, report.id, ["status"], detail)
    return report
