"""Periodic referral work: a provider that leaves a referral unanswered past the SLA is escalated."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from marketplace import tasks
from marketplace.cases import notifications
from marketplace.db import Database, utcnow
from marketplace.referrals.models import Referral


@tasks.job("referrals.escalate_overdue")
async def escalate_overdue(db: Database) -> int:
    """Mark unanswered referrals past the SLA as escalated and tell the street's supervisors. Idempotent."""
    cutoff = utcnow() - dt.timedelta(hours=db.settings.deadlines.standard_accept_hours)
    async with db.session() as session:
        stmt = (
            select(Referral)
            .where(Referral.status == "sent", Referral.escalated_at.is_(None), Referral.sent_at < cutoff)
            .order_by(Referral.id)
            .limit(1000)
        )
        if not db.settings.is_sqlite:
            stmt = stmt.with_for_update(skip_locked=True)
        overdue = list((await session.scalars(stmt)).all())
        now = utcnow()
        for r in overdue:
            hours = int((now - r.sent_at).total_seconds() // 3600)
            recipients = await notifications.street_supervisors(session, r.street_id)
            await notifications.notify(
                session,
                recipients,
                key=f"referral-escalation:{r.id}",
                kind="referral_overdue",
                title="转介超时未响应",
                body=f"转介 {r.id} 已发出 {hours} 小时，机构仍未接收或拒绝（时限 {db.settings.deadlines.standard_accept_hours} 小时）。",
                entity="referral",
                entity_id=r.id,
                data={"organization_id": r.organization_id, "service_id": r.service_id},
            )
            r.escalated_at = now
        return len(overdue)
