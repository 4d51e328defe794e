"""The intakes of a child's closed loop, in the stage "report" (发现报告): the call or report as it came in and
each triage, for the intakes linked to the child directly, through the mandatory report they made, or through the
file they opened. Never the caller's name or phone, nor the place (``referrals.timeline`` shows them)."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.cases.loop import LoopEvent
from marketplace.cases.models import Child, MandatoryReport
from marketplace.cases.taxonomy import URGENCY
from marketplace.intake.models import Intake, IntakeTriage
from marketplace.intake.taxonomy import CHANNEL_EVENTS, OUTCOMES

STAGE = "report"


async def loop_events(session: AsyncSession, child: Child) -> list[LoopEvent]:
    reports = select(MandatoryReport.id).where(MandatoryReport.child_id == child.id)
    linked = or_(
        Intake.child_id == child.id,
        Intake.report_id.in_(reports),
        Intake.id.in_(select(IntakeTriage.intake_id).where(IntakeTriage.child_id == child.id)),
    )
    intakes = list((await session.scalars(select(Intake).where(linked).order_by(Intake.id))).all())
    if not intakes:
        return []
    events = [
        LoopEvent(
            i.received_at,
            STAGE,
            "intake_received",
            CHANNEL_EVENTS.get(i.channel, i.channel),
            f"紧急程度：{URGENCY.get(i.urgency, str(i.urgency))}",
            "intake",
            i.id,
        )
        for i in intakes
    ]
    triages = await session.scalars(
        select(IntakeTriage).where(IntakeTriage.intake_id.in_([i.id for i in intakes])).order_by(IntakeTriage.id)
    )
    for t in triages.all():
        detail = "；".join(
            part
            for part in (
                f"强制报告 {t.report_id}" if t.report_id else "",
                f"需求 {t.need_id}" if t.need_id and t.outcome == "need" else "",
                f"理由：{t.reason}" if t.reason else "",
            )
            if part
        )
        events.append(
            LoopEvent(
                t.created_at,
                STAGE,
                "intake_triaged",
                f"来电研判：{OUTCOMES.get(t.outcome, t.outcome)}",
                detail,
                "intake",
                t.intake_id,
            )
        )
    return events
