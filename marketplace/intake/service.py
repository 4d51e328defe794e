"""Hotline calls and public reports (来电与群众反映): taken in, routed to the community's directors with a deadline by
urgency, and triaged once into a mandatory report, a need on a file, a new file or no action with a reason.

Who takes a call: the district (any community), a street's supervisor (a community of the street), a community's
child director (their own community). Who reads it: like a child's file (``cases.service.can_read``): the
community's director, the street's supervisor, the district and the auditor; org staff and the money side see
nothing. Who triages: the community's director, the street's supervisor or the district; what a triage makes goes
through the cases services and keeps their rules (a mandatory report by the director or the supervisor, a need and a
new file by the child's director).

A triage is a record (``IntakeTriage``), never edited: an intake is triaged once, and an intake whose mandatory
report is about an unidentified child may later be given the file (a new one, or an existing one), which links the
report (``cases.reports.link``). Every read writes audit rows (an intake is children's data)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Final

from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock, masking
from marketplace.audit import service as audit
from marketplace.auth.principal import Principal
from marketplace.cases import notifications, reports
from marketplace.cases import service as cases
from marketplace.cases.models import Child
from marketplace.cases.report_schemas import LinkIn, MandatoryReportIn
from marketplace.cases.schemas import NeedIn
from marketplace.cases.taxonomy import URGENCY
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.geography.models import Community
from marketplace.intake.models import Intake, IntakeTriage
from marketplace.intake.schemas import IntakeIn, IntakeOut, TriageIn, TriageOut
from marketplace.intake.taxonomy import CHANNELS, OUTCOMES, STATUSES, TRIAGE_DEADLINES, URGENT_FROM
from marketplace.pagination import fetch_page
from marketplace.settings import Settings

ENTITY: Final = "intake"
# What a read of an intake shows, as written to the audit log.
READ_FIELDS: Final = (
    "channel",
    "caller",
    "what",
    "place",
    "urgency",
    "subject_name",
    "subject_description",
    "status",
    "triages",
)
RECORDERS: Final = ("child_director", "child_supervisor", "district_admin")
# A time sent from a device whose clock runs a little fast is not "in the future".
CLOCK_SKEW: Final = dt.timedelta(minutes=5)
MIN_REASON = 2


def not_found(intake_id: int) -> NotFound:
    return NotFound(f"来电登记 {intake_id} 不存在 (intake not found)")


def can_triage(principal: Principal, community_id: int, street_id: int) -> bool:
    if principal.role == "child_director":
        return principal.community_id == community_id
    if principal.role == "child_supervisor":
        return principal.street_id == street_id
    return principal.role == "district_admin"


def due_at(received_at: dt.datetime, urgency: int) -> dt.datetime:
    return received_at + TRIAGE_DEADLINES[urgency]


def is_overdue(intake: Intake, now: dt.datetime) -> bool:
    return intake.status == "new" and intake.due_at < now


# ---------------------------------------------------------------- taking a call


async def _community(session: AsyncSession, principal: Principal, community_id: int) -> Community:
    principal.require(*RECORDERS)
    community = await session.get(Community, community_id)
    if community is None:
        raise Invalid.field("community_id", f"社区 {community_id} 不存在 (unknown community)")
    if principal.role == "child_director" and community.id != principal.community_id:
        raise Invalid.field("community_id", "儿童主任只能登记本社区的来电 (only your own community)")
    if principal.role == "child_supervisor" and community.street_id != principal.street_id:
        raise Invalid.field("community_id", "督导员只能登记本街道社区的来电 (only a community of your street)")
    return community


async def create(session: AsyncSession, principal: Principal, data: IntakeIn) -> tuple[Intake, list[int]]:
    """``POST /api/v1/intakes``: the call taken, routed to the community's directors; returns it and who is told."""
    community = await _community(session, principal, data.community_id)
    now = clock.now()
    received = data.received_at or now
    if received > now + CLOCK_SKEW:
        raise Invalid.field("received_at", "来电时间不能晚于现在 (received_at in the future)")
    if data.child_id is not None:
        child = await cases.visible_child(session, principal, data.child_id)
        if child.community_id != community.id:
            raise Invalid.field("child_id", "该儿童档案不在所选社区 (the file is not in the chosen community)")
        if child.status != "active":
            raise Invalid.field("child_id", "该儿童档案已结案 (the file is closed)")
    intake = Intake(
        channel=data.channel,
        received_at=received,
        received_by=principal.user_id,
        recorder_role=principal.role,
        anonymous=data.anonymous,
        caller_name="" if data.anonymous else data.caller_name,
        caller_phone=data.caller_phone,
        caller_relation=data.caller_relation,
        what=data.what,
        place=data.place,
        community_id=community.id,
        street_id=community.street_id,
        urgency=data.urgency,
        child_id=data.child_id,
        subject_name=data.subject_name,
        subject_description=data.subject_description,
        due_at=due_at(received, data.urgency),
        status="new",
        created_at=now,
    )
    session.add(intake)
    await session.flush()
    await audit.record(session, principal, "create", ENTITY, intake.id, READ_FIELDS, {"channel": data.channel})
    if intake.child_id is not None:
        await audit.record(session, principal, "intake", "child", intake.child_id, ["intake"], {"intake_id": intake.id})
    told = await route(session, intake)
    return intake, told


async def route(session: AsyncSession, intake: Intake) -> list[int]:
    """Tell the community's directors (once: the key is the intake's); a community without an active director has
    the street's supervisors told instead. No child's name or place in the words."""
    directors = await notifications.community_directors(session, intake.community_id)
    if not directors:
        directors = await notifications.street_supervisors(session, intake.street_id)
    deadline = intake.due_at.astimezone(clock.DISTRICT_TZ).strftime("%m月%d日 %H:%M")
    await notifications.notify(
        session,
        directors,
        key=f"intake_routed:{intake.id}",
        kind="intake_routed",
        title=f"{CHANNELS.get(intake.channel, intake.channel)}（{URGENCY.get(intake.urgency, '')}）待研判",
        body=f"来电登记 {intake.id} 已转至本社区，请于 {deadline} 前研判处置。",
        entity=ENTITY,
        entity_id=intake.id,
        data={"urgent": intake.urgency >= URGENT_FROM, "intake_id": intake.id, "due_at": intake.due_at.isoformat()},
    )
    return directors


# ---------------------------------------------------------------- reading


async def load(session: AsyncSession, intake_id: int, *, lock: bool = False) -> Intake:
    stmt = select(Intake).where(Intake.id == intake_id)
    if lock:
        stmt = stmt.with_for_update()
    intake = await session.scalar(stmt)
    if intake is None:
        raise not_found(intake_id)
    return intake


async def visible(session: AsyncSession, principal: Principal, intake_id: int, *, lock: bool = False) -> Intake:
    intake = await load(session, intake_id, lock=lock)
    if not cases.can_read(principal, intake.community_id, intake.street_id):
        raise not_found(intake_id)
    return intake


async def audit_read(session: AsyncSession, principal: Principal, action: str, intakes: Sequence[Intake]) -> None:
    """A read of intakes is a read of children's data: one row per intake, and one per child a file names."""
    await audit.record_read(session, principal, action, ENTITY, [i.id for i in intakes], READ_FIELDS)
    children = list(dict.fromkeys(i.child_id for i in intakes if i.child_id is not None))
    if children:
        await audit.record_read(session, principal, action, "child", children, ["intake"])


async def read(session: AsyncSession, principal: Principal, intake_id: int) -> Intake:
    intake = await visible(session, principal, intake_id)
    await audit_read(session, principal, "read", [intake])
    return intake


async def list_intakes(
    session: AsyncSession,
    principal: Principal,
    *,
    status: str | None = None,
    channel: str | None = None,
    urgency: int | None = None,
    community_id: int | None = None,
    child_id: int | None = None,
    overdue: bool | None = None,
    limit: int,
    offset: int,
) -> tuple[list[Intake], int]:
    """The intakes ``principal`` may read: the untriaged first, the nearest deadline first; then the newest."""
    stmt = select(Intake)
    clause = cases.scope_clause(principal, Intake.community_id, Intake.street_id)
    if clause is not None:
        stmt = stmt.where(clause)
    if status:
        stmt = stmt.where(Intake.status == status)
    if channel:
        stmt = stmt.where(Intake.channel == channel)
    if urgency:
        stmt = stmt.where(Intake.urgency == urgency)
    if community_id:
        stmt = stmt.where(Intake.community_id == community_id)
    if child_id:
        stmt = stmt.where(Intake.child_id == child_id)
    now = clock.now()
    if overdue is True:
        stmt = stmt.where(Intake.status == "new", Intake.due_at < now)
    elif overdue is False:
        stmt = stmt.where((Intake.status != "new") | (Intake.due_at >= now))
    rows, total = await fetch_page(
        session,
        stmt,
        case((Intake.status == "new", 0), else_=1),
        case((Intake.status == "new", Intake.due_at), else_=None),
        Intake.received_at.desc(),
        Intake.id.desc(),
        limit=limit,
        offset=offset,
    )
    await audit_read(session, principal, "list", rows)
    return rows, total


async def triages_of(session: AsyncSession, intake_ids: Sequence[int]) -> dict[int, list[IntakeTriage]]:
    found: dict[int, list[IntakeTriage]] = {i: [] for i in intake_ids}
    if intake_ids:
        rows = await session.scalars(
            select(IntakeTriage).where(IntakeTriage.intake_id.in_(list(intake_ids))).order_by(IntakeTriage.id)
        )
        for t in rows.all():
            found[t.intake_id].append(t)
    return found


def caller_phone(principal: Principal, intake: Intake) -> str:
    """The caller's number in full for those who call back (who may triage it); masked for the rest (the auditor)."""
    if can_triage(principal, intake.community_id, intake.street_id):
        return intake.caller_phone
    return masking.mask_phone(intake.caller_phone) if intake.caller_phone else ""


async def present(
    session: AsyncSession,
    principal: Principal,
    intakes: Sequence[Intake],
    notified: dict[int, list[int]] | None = None,
) -> list[IntakeOut]:
    """Intakes as the API shows them (the caller has checked scope and written the audit rows)."""
    triages = await triages_of(session, [i.id for i in intakes])
    now = clock.now()
    return [
        IntakeOut(
            id=i.id,
            channel=i.channel,
            channel_label=CHANNELS.get(i.channel, i.channel),
            received_at=i.received_at,
            received_by=i.received_by,
            recorder_role=i.recorder_role,
            anonymous=i.anonymous,
            caller_name=i.caller_name,
            caller_phone=caller_phone(principal, i),
            caller_relation=i.caller_relation,
            what=i.what,
            place=i.place,
            community_id=i.community_id,
            street_id=i.street_id,
            urgency=i.urgency,
            urgency_label=URGENCY.get(i.urgency, str(i.urgency)),
            child_id=i.child_id,
            subject_name=i.subject_name,
            subject_description=i.subject_description,
            due_at=i.due_at,
            overdue=is_overdue(i, now),
            status=i.status,
            status_label=STATUSES.get(i.status, i.status),
            outcome=i.outcome,
            outcome_label=OUTCOMES.get(i.outcome, i.outcome) if i.outcome else "",
            triaged_at=i.triaged_at,
            report_id=i.report_id,
            need_id=i.need_id,
            escalated_at=i.escalated_at,
            created_at=i.created_at,
            triages=[
                TriageOut(
                    id=t.id,
                    outcome=t.outcome,
                    outcome_label=OUTCOMES.get(t.outcome, t.outcome),
                    reason=t.reason,
                    report_id=t.report_id,
                    need_id=t.need_id,
                    child_id=t.child_id,
                    triaged_by=t.triaged_by,
                    triager_role=t.triager_role,
                    created_at=t.created_at,
                )
                for t in triages[i.id]
            ],
            notified_user_ids=(notified or {}).get(i.id, []),
        )
        for i in intakes
    ]


# ---------------------------------------------------------------- triage


def _only(data: TriageIn, *allowed: str) -> None:
    """A triage takes the fields of its outcome only: anything else is a mistake of the caller's, said so."""
    given = {
        "report_kind": data.report_kind is not None,
        "police_notified": data.police_notified,
        "child_id": data.child_id is not None,
        "category": data.category is not None,
        "urgency": data.urgency is not None,
        "note": bool(data.note),
        "child": data.child is not None,
        "reason": bool(data.reason),
    }
    extra = [name for name, present in given.items() if present and name not in allowed]
    if extra:
        raise Invalid.field(extra[0], f"研判结果“{OUTCOMES[data.outcome]}”不接受此项 (not taken by this outcome)")


async def _open_file(
    session: AsyncSession, principal: Principal, settings: Settings, intake: Intake, data: TriageIn
) -> Child:
    if data.child is None:
        raise Invalid.field("child", "新建档案需填写儿童档案信息 (child is required)")
    if data.child.community_id != intake.community_id:
        raise Invalid.field("child.community_id", "档案须建在来电所属社区 (the file belongs to the intake's community)")
    child, _ = await cases.create_child(session, principal, settings, data.child)
    return child


async def triage(
    session: AsyncSession, principal: Principal, settings: Settings, intake_id: int, data: TriageIn
) -> Intake:
    """``POST /api/v1/intakes/{id}/triage``: one triage, recorded; see the module's docstring for who and what."""
    intake = await load(session, intake_id, lock=True)
    if not can_triage(principal, intake.community_id, intake.street_id):
        if cases.can_read(principal, intake.community_id, intake.street_id):
            raise Forbidden(
                "只有本社区儿童主任、街道督导员或区民政局可研判 (only the director, supervisor or district)"
            )
        raise not_found(intake_id)
    first = intake.status == "new"
    if first and data.outcome == "link_file":
        raise Invalid.field("outcome", "尚未转为强制报告，不能关联档案 (link_file follows a mandatory report)")
    if not first:
        report = await reports.load(session, intake.report_id) if intake.report_id is not None else None
        if report is None or report.child_id is not None or data.outcome not in ("new_file", "link_file"):
            raise Conflict("来电已研判，研判结果不可更改 (the intake is already triaged)")
    row = IntakeTriage(
        intake_id=intake.id, outcome=data.outcome, triaged_by=principal.user_id, triager_role=principal.role
    )
    if data.outcome == "mandatory_report":
        _only(data, "report_kind", "police_notified", "category")
        if data.report_kind is None:
            raise Invalid.field("report_kind", "请选择强制报告类型 (report_kind is required)")
        if intake.child_id is not None:
            made = MandatoryReportIn(
                kind=data.report_kind,
                description=intake.what,
                child_id=intake.child_id,
                place=intake.place,
                police_notified=data.police_notified,
                category=data.category,
            )
        else:
            if data.category is not None:
                raise Invalid.field("category", "未建档儿童的需求类别在关联档案时选择 (chosen when the file is linked)")
            made = MandatoryReportIn(
                kind=data.report_kind,
                description=intake.what,
                community_id=intake.community_id,
                subject_name=intake.subject_name,
                subject_description=intake.subject_description,
                place=intake.place,
                police_notified=data.police_notified,
            )
        if principal.role == "district_admin":
            raise Forbidden("强制报告由社区儿童主任或街道督导员提交 (only the director or the supervisor reports)")
        report, _ = await reports.create(session, principal, settings, made)
        intake.report_id = row.report_id = report.id
        intake.need_id = row.need_id = report.need_id
        row.child_id = report.child_id
    elif data.outcome == "need":
        _only(data, "child_id", "category", "urgency", "note")
        child_id = intake.child_id or data.child_id
        if child_id is None:
            raise Invalid.field("child_id", "请选择需求所属的儿童档案 (child_id is required)")
        if intake.child_id is not None and data.child_id is not None and data.child_id != intake.child_id:
            raise Invalid.field("child_id", "来电已关联其他儿童档案 (the intake names another file)")
        if data.category is None:
            raise Invalid.field("category", "请选择需求类别 (category is required)")
        child = await cases.visible_child(session, principal, child_id)
        if child.community_id != intake.community_id:
            raise Invalid.field("child_id", "该儿童档案不在来电所属社区 (the file is not in the intake's community)")
        need = await cases.create_need(
            session,
            principal,
            child.id,
            NeedIn(category=data.category, urgency=data.urgency or intake.urgency, note=data.note or intake.what),
        )
        intake.child_id = row.child_id = child.id
        intake.need_id = row.need_id = need.id
    elif data.outcome == "new_file":
        _only(data, "child", "category")
        if intake.child_id is not None:
            raise Conflict("来电已关联儿童档案 (the intake already names a file)")
        if first and data.category is not None:
            raise Invalid.field("category", "新建档案时无需选择需求类别 (category only when a report is linked)")
        child = await _open_file(session, principal, settings, intake, data)
        intake.child_id = row.child_id = child.id
        if not first and intake.report_id is not None:
            report = await reports.link(
                session, principal, settings, intake.report_id, LinkIn(child_id=child.id, category=data.category)
            )
            row.report_id, row.need_id = report.id, report.need_id
            intake.need_id = report.need_id
    elif data.outcome == "link_file":
        _only(data, "child_id", "category")
        if data.child_id is None:
            raise Invalid.field("child_id", "请选择要关联的儿童档案 (child_id is required)")
        assert intake.report_id is not None
        report = await reports.link(
            session, principal, settings, intake.report_id, LinkIn(child_id=data.child_id, category=data.category)
        )
        intake.child_id = row.child_id = data.child_id
        row.report_id, row.need_id = report.id, report.need_id
        intake.need_id = report.need_id
    else:
        _only(data, "reason")
        if len(data.reason) < MIN_REASON:
            raise Invalid.field("reason", "不予处理须写明理由 (a reason is required)")
        row.reason = data.reason
    if first:
        intake.status = "triaged"
        intake.outcome = data.outcome
        intake.triaged_at = clock.now()
        intake.triaged_by = principal.user_id
    row.created_at = clock.now()
    session.add(row)
    await session.flush()
    await audit.record(
        session, principal, "triage", ENTITY, intake.id, ["status", "triages"], {"outcome": data.outcome}
    )
    return intake
