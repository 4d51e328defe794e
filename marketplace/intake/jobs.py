"""Periodic work of the intake feature (``workers/beat.py`` runs it).

``intake.overdue``: an intake not triaged by its deadline (``taxonomy.TRIAGE_DEADLINES`` by urgency) goes up to its
street's supervisors at once (urgent: even at night). Once per intake: ``escalated_at`` is set in the same
transaction and the notification's key is the intake's, so a second run tells nobody again."""

from __future__ import annotations

from typing import Final

from sqlalchemy import select

from marketplace import clock, tasks
from marketplace.cases import notifications
from marketplace.cases.taxonomy import URGENCY
from marketplace.db import Database
from marketplace.intake.models import Intake
from marketplace.intake.taxonomy import CHANNELS

BATCH: Final = 500


@tasks.job("intake.overdue")
async def overdue(db: Database) -> int:
    """Escalate the untriaged intakes past their deadline; returns how many were escalated."""
    now = clock.now()
    done = 0
    async with db.session() as session:
        found = (
            await session.scalars(
                select(Intake)
                .where(Intake.status == "new", Intake.due_at < now, Intake.escalated_at.is_(None))
                .order_by(Intake.due_at, Intake.id)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for intake in found:
            supervisors = await notifications.street_supervisors(session, intake.street_id)
            late = intake.due_at.astimezone(clock.DISTRICT_TZ).strftime("%m月%d日 %H:%M")
            await notifications.notify(
                session,
                supervisors,
                key=f"intake_overdue:{intake.id}",
                kind="intake_overdue",
                title=f"{CHANNELS.get(intake.channel, intake.channel)}（{URGENCY.get(intake.urgency, '')}）逾期未研判",
                body=f"来电登记 {intake.id} 应于 {late} 前研判，社区儿童主任尚未处置，请督促或直接研判。",
                entity="intake",
                entity_id=intake.id,
                data={"urgent": True, "intake_id": intake.id, "due_at": intake.due_at.isoformat()},
            )
            intake.escalated_at = now
            done += 1
    return done
