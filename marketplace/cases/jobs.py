"""Periodic work of the cases feature (names registered in ``marketplace.tasks.JOBS``; the beat schedule in
``workers/beat.py`` runs them)."""

from __future__ import annotations

from sqlalchemy import Exists, and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock, tasks
from marketplace.cases import escalation, notifications
from marketplace.cases.models import Escalation, MandatoryReport
from marketplace.cases.taxonomy import REPORT_KINDS
from marketplace.db import Database

# ---------------------------------------------------------------- mandatory report acknowledgements
#
# A mandatory report must be acknowledged by the street's supervisor within ``report_ack_supervisor_hours`` and by
# the district within ``report_ack_district_hours`` (``Deadlines``). The ladder's steps (``escalation.climb``, kind
# "report_ack", one row per report and level) are:
#   level 2 — the supervisor has not acknowledged past ``supervisor_ack_due_at``: the street's supervisors are
#             reminded and the district is told (the step's recipients list both);
#   level 3 — the district has not acknowledged past ``district_ack_due_at``: the district admins are told again.
# Level 3 names the district's own lateness because an escalation step is unique per level; the supervisor's
# lateness, which also goes up to the district, is recorded as level 2. A closed report climbs no further.

REPORT_ACK_KIND = "report_ack"
REPORT_ACK_BATCH = 500


def _step_taken(level: int) -> Exists:
    return exists().where(
        Escalation.entity == "mandatory_report",
        Escalation.entity_id == MandatoryReport.id,
        Escalation.kind == REPORT_ACK_KIND,
        Escalation.level == level,
    )


async def _supervisor_late(session: AsyncSession, report: MandatoryReport, hours: int) -> bool:
    assert report.supervisor_ack_due_at is not None
    body = (
        f"强制报告 {report.id}（{REPORT_KINDS.get(report.kind, report.kind)}）提交已超过 {hours} 小时，"
        "街道督导员仍未签收，请督促核实处置。"
    )
    took = await escalation.climb(
        session,
        entity="mandatory_report",
        entity_id=report.id,
        kind=REPORT_ACK_KIND,
        level=2,
        due=report.supervisor_ack_due_at,
        community_id=report.community_id,
        street_id=report.street_id,
        child_id=report.child_id,
        body=body,
        data={"report_id": report.id},
    )
    if not took:
        return False
    # The supervisor's lateness goes up to the district in the same step.
    district = await notifications.district_admins(session)
    await notifications.notify(
        session,
        district,
        key=f"escalation:mandatory_report:{report.id}:{REPORT_ACK_KIND}:2:district",
        kind=f"escalation_{REPORT_ACK_KIND}",
        title="强制报告超时未签收（街道督导员未签收，已升级至区民政局）",
        body=body,
        entity="mandatory_report",
        entity_id=report.id,
        data={"level": 2, "kind": REPORT_ACK_KIND, "report_id": report.id},
    )
    step = await session.scalar(
        select(Escalation).where(
            Escalation.entity == "mandatory_report",
            Escalation.entity_id == report.id,
            Escalation.kind == REPORT_ACK_KIND,
            Escalation.level == 2,
        )
    )
    if step is not None:
        step.recipients = list(dict.fromkeys([*step.recipients, *district]))
    return True


async def _district_late(session: AsyncSession, report: MandatoryReport, hours: int) -> bool:
    assert report.district_ack_due_at is not None
    return await escalation.climb(
        session,
        entity="mandatory_report",
        entity_id=report.id,
        kind=REPORT_ACK_KIND,
        level=3,
        due=report.district_ack_due_at,
        community_id=report.community_id,
        street_id=report.street_id,
        child_id=report.child_id,
        body=(
            f"强制报告 {report.id}（{REPORT_KINDS.get(report.kind, report.kind)}）提交已超过 {hours} 小时，"
            "区民政局仍未签收。"
        ),
        data={"report_id": report.id},
    )


@tasks.job("cases.report_ack_overdue")
async def report_ack_overdue(db: Database) -> int:
    """Escalate mandatory reports not acknowledged in time (see the header above); returns the steps taken.
    Idempotent: a step already taken is neither looked at again nor repeated."""
    d = db.settings.deadlines
    now = clock.now()
    taken = 0
    async with db.session() as session:
        supervisor_late = and_(
            MandatoryReport.supervisor_ack_at.is_(None),
            MandatoryReport.supervisor_ack_due_at < now,
            ~_step_taken(2),
        )
        district_late = and_(
            MandatoryReport.district_ack_at.is_(None),
            MandatoryReport.district_ack_due_at < now,
            ~_step_taken(3),
        )
        stmt = (
            select(MandatoryReport)
            .where(MandatoryReport.status != "closed", or_(supervisor_late, district_late))
            .order_by(MandatoryReport.id)
            .limit(REPORT_ACK_BATCH)
        )
        for report in (await session.scalars(stmt)).all():
            due = report.supervisor_ack_due_at
            if report.supervisor_ack_at is None and due is not None and due < now:
                taken += await _supervisor_late(session, report, d.report_ack_supervisor_hours)
            due = report.district_ack_due_at
            if report.district_ack_at is None and due is not None and due < now:
                taken += await _district_late(session, report, d.report_ack_district_hours)
    return taken
