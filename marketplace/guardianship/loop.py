"""The guardianship events of a child's closed loop (``referrals.timeline`` lists ``loop_events`` in its SOURCES):
assessments at the "assessment" stage, arrangements started, renewed, ended or lapsed at "intervention". No name,
phone or address of anyone leaves here: the entrusted person is told by relationship only."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.cases.loop import LoopEvent
from marketplace.cases.models import Child
from marketplace.guardianship import instrument as inst
from marketplace.guardianship.models import (
    EntrustedGuardianship,
    GuardianshipAssessment,
    LongTermGuardianship,
    TemporaryGuardianship,
)
from marketplace.guardianship.taxonomy import TEMPORARY_OUTCOMES


def _on(day: dt.date, fallback: dt.datetime) -> dt.datetime:
    """An event known by its date: that date's district noon, or the recording instant when it is the same day."""
    if clock.local_date(fallback) == day:
        return fallback
    return dt.datetime.combine(day, dt.time(12), tzinfo=clock.DISTRICT_TZ).astimezone(dt.UTC)


async def loop_events(session: AsyncSession, child: Child) -> list[LoopEvent]:
    events: list[LoopEvent] = []
    for a in await session.scalars(select(GuardianshipAssessment).where(GuardianshipAssessment.child_id == child.id)):
        band = inst.get(a.instrument_code, a.instrument_version).band(a.result)
        events.append(
            LoopEvent(
                _on(a.assessed_on, a.created_at),
                "assessment",
                "guardianship_assessment",
                f"监护评估：{band.label}（{a.score} 分）",
                band.recommendation,
                "guardianship_assessment",
                a.id,
            )
        )
    for e in await session.scalars(select(EntrustedGuardianship).where(EntrustedGuardianship.child_id == child.id)):
        renewed = e.renewed_from_id is not None
        events.append(
            LoopEvent(
                _on(e.signed_on, e.created_at),
                "intervention",
                "entrusted_renewed" if renewed else "entrusted_started",
                "委托监护续签" if renewed else "委托监护确认书签署",
                f"受托人：{e.relationship}；复核日期 {e.review_on.isoformat()}",
                "entrusted_guardianship",
                e.id,
            )
        )
        if e.status == "ended" and e.ended_on is not None:
            events.append(
                LoopEvent(
                    _on(e.ended_on, e.updated_at),
                    "intervention",
                    "entrusted_ended",
                    "委托监护终止",
                    f"终止日期 {e.ended_on.isoformat()}",
                    "entrusted_guardianship",
                    e.id,
                )
            )
        if e.lapsed_at is not None:
            events.append(
                LoopEvent(
                    e.lapsed_at,
                    "intervention",
                    "entrusted_lapsed",
                    "委托监护过期未复核",
                    f"复核日期 {e.review_on.isoformat()} 已过，已告知儿童主任和街道督导员",
                    "entrusted_guardianship",
                    e.id,
                )
            )
    for t in await session.scalars(select(TemporaryGuardianship).where(TemporaryGuardianship.child_id == child.id)):
        events.append(
            LoopEvent(
                _on(t.started_on, t.created_at),
                "intervention",
                "temporary_started",
                "救助保护机构临时监护",
                f"安置机构：{t.institution}",
                "temporary_guardianship",
                t.id,
            )
        )
        if t.status == "ended" and t.ended_on is not None:
            outcome = TEMPORARY_OUTCOMES.get(t.outcome or "", "")
            events.append(
                LoopEvent(
                    _on(t.ended_on, t.created_at),
                    "intervention",
                    "temporary_ended",
                    f"临时监护结束：{outcome}",
                    f"评估 #{t.assessment_id}" if t.assessment_id else "",
                    "temporary_guardianship",
                    t.id,
                )
            )
    for lt in await session.scalars(select(LongTermGuardianship).where(LongTermGuardianship.child_id == child.id)):
        events.append(
            LoopEvent(
                _on(lt.started_on, lt.created_at),
                "intervention",
                "long_term_started",
                "国家长期监护",
                f"决定文书 {lt.document_no}；监护机构：{lt.institution}",
                "long_term_guardianship",
                lt.id,
            )
        )
    return events
