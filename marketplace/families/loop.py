"""What the families feature tells a child's timeline (``referrals.timeline.SOURCES``): a parent's contact lost
(and raised to the street), restored, and the parent's visits home, all in the monitoring stage. No phone, employer
or address: the relation and the city of work only."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.cases.loop import LoopEvent
from marketplace.cases.models import Child
from marketplace.families.models import ContactAlert, ParentAway, ParentVisitHome
from marketplace.families.taxonomy import RELATIONS

RESOLVED_BY = {
    "contact": "已登记联系",
    "visit_home": "父母回家探望",
    "returned": "父母已返乡",
    "closed": "档案已结案",
    "rule": "约定联系频次已调整",
}
# A stay at home has dates only: placed at this local hour of its first day.
STAY_HOUR = dt.time(9, 0)


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, STAY_HOUR, tzinfo=clock.DISTRICT_TZ).astimezone(dt.UTC)


async def loop_events(session: AsyncSession, child: Child) -> list[LoopEvent]:
    parents = {
        int(p.lineage_id or p.id): p
        for p in (
            await session.scalars(
                select(ParentAway).where(ParentAway.child_id == child.id).order_by(ParentAway.version)
            )
        ).all()
    }  # the last version of each lineage wins

    def who(lineage: int) -> str:
        p = parents.get(lineage)
        return RELATIONS.get(p.relation, "父母") if p else "父母"

    events: list[LoopEvent] = []
    for a in (await session.scalars(select(ContactAlert).where(ContactAlert.child_id == child.id))).all():
        since = f"自 {a.silent_since.isoformat()} 起未与孩子联系"
        events.append(
            LoopEvent(
                a.opened_at,
                "monitoring",
                "families_contact_lost",
                f"{who(a.parent_id)}联系中断",
                since,
                "families_alert",
                a.id,
            )
        )
        if a.escalated_at is not None:
            events.append(
                LoopEvent(
                    a.escalated_at,
                    "monitoring",
                    "families_contact_lost_escalated",
                    f"{who(a.parent_id)}长期联系中断，已升级至街道督导员",
                    since,
                    "families_alert",
                    a.id,
                )
            )
        if a.resolved_at is not None:
            events.append(
                LoopEvent(
                    a.resolved_at,
                    "monitoring",
                    "families_contact_restored",
                    f"{who(a.parent_id)}恢复联系",
                    RESOLVED_BY.get(a.resolved_by, ""),
                    "families_alert",
                    a.id,
                )
            )
    for v in (await session.scalars(select(ParentVisitHome).where(ParentVisitHome.child_id == child.id))).all():
        p = parents.get(v.parent_id)
        place = f"（从{p.work_city or p.work_province}回来）" if p else ""
        events.append(
            LoopEvent(
                _at(v.from_date),
                "monitoring",
                "families_visit_home",
                f"{who(v.parent_id)}回家探望{place}",
                f"{v.from_date.isoformat()} 至 {v.to_date.isoformat()}",
                "families_visit_home",
                v.id,
            )
        )
    return events
