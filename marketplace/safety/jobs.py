"""Periodic work of the safety feature: ``safety.grade`` (daily, ``workers/beat.py``) keeps every child's graded
warning current (``service.grade_child``: visits, risk levels, closed files and the turn of the season reach the
warnings here) and escalates to the street's supervisors the warnings not acknowledged in time
(``service.escalate_due``). Run twice, it changes nothing the second time."""

from __future__ import annotations

from sqlalchemy import or_, select

from marketplace import clock, tasks
from marketplace.cases.models import Child
from marketplace.db import Database
from marketplace.safety import service
from marketplace.safety.models import SafetyWarning

CHUNK = 500


@tasks.job("safety.grade")
async def grade(db: Database) -> int:
    """Regrade every active child and every child with an open warning; escalate the late ones. Returns how many
    warnings changed or were escalated."""
    now, today = clock.now(), clock.today()
    changed = 0
    last = 0
    while True:
        async with db.session() as session:
            rows = (
                await session.execute(
                    select(
                        Child.id,
                        Child.community_id,
                        Child.street_id,
                        Child.risk_level,
                        Child.next_visit_due,
                        Child.status,
                    )
                    .where(
                        Child.id > last,
                        or_(
                            Child.status == "active",
                            select(SafetyWarning.id).where(SafetyWarning.open_child_id == Child.id).exists(),
                        ),
                    )
                    .order_by(Child.id)
                    .limit(CHUNK)
                )
            ).all()
            if not rows:
                break
            ids = [int(r[0]) for r in rows]
            missed = await service.missed_now(session, ids, today)
            current = {
                w.child_id: w
                for w in (
                    await session.scalars(select(SafetyWarning).where(SafetyWarning.open_child_id.in_(ids)))
                ).all()
            }
            for r in rows:
                facts = service.ChildFacts(int(r[0]), int(r[1]), int(r[2]), str(r[3]), r[4], str(r[5]))
                if await service.grade_child(
                    session, facts, now, today, missed=missed.get(facts.id, {}), current=current.get(facts.id)
                ):
                    changed += 1
            last = ids[-1]
    async with db.session() as session:
        changed += await service.escalate_due(session, now)
    return changed
