"""Periodic work of guardianship (registered in ``marketplace.tasks.JOBS``; ``workers/beat.py`` runs it daily)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from marketplace import clock, tasks
from marketplace.audit import service as audit
from marketplace.cases import notifications
from marketplace.cases.models import Child
from marketplace.db import Database
from marketplace.guardianship.models import EntrustedGuardianship
from marketplace.guardianship.taxonomy import REVIEW_REMINDER_DAYS

BATCH = 500


@tasks.job("guardianship.reviews")
async def reviews(db: Database) -> int:
    """Entrusted guardianship reviews: the community's directors are reminded ``REVIEW_REMINDER_DAYS`` (30 and 7)
    days before an active confirmation's review date (``guardianship_review_due``, once each: the notification's
    key); the day after the review date an active one is marked ``lapsed`` and its directors and the street's
    supervisors are told at once (``guardianship_lapsed``, urgent). Idempotent; returns the notifications written.
    The messages name no child: the title says what, the link leads to the file."""
    today = clock.today()
    horizon = today + dt.timedelta(days=max(REVIEW_REMINDER_DAYS))
    written = 0
    async with db.session() as session:
        rows = (
            await session.execute(
                select(EntrustedGuardianship, Child.community_id, Child.street_id)
                .join(Child, Child.id == EntrustedGuardianship.child_id)
                .where(EntrustedGuardianship.status == "active", EntrustedGuardianship.review_on <= horizon)
                .order_by(EntrustedGuardianship.review_on, EntrustedGuardianship.id)
                .limit(BATCH)
                .with_for_update(of=EntrustedGuardianship)
            )
        ).all()
        for e, community_id, street_id in rows:
            days = (e.review_on - today).days
            directors = await notifications.community_directors(session, community_id)
            if days < 0:
                e.status = "lapsed"
                e.lapsed_at = clock.now()
                await audit.record(
                    session, None, "update", "entrusted_guardianship", e.id, ["status"], {"child_id": e.child_id}
                )
                people = [*directors, *await notifications.street_supervisors(session, street_id)]
                written += len(
                    await notifications.notify(
                        session,
                        people,
                        key=f"guardianship:entrusted:{e.id}:lapsed",
                        kind="guardianship_lapsed",
                        title="委托监护已过期未复核",
                        body=(
                            f"委托监护确认书 #{e.id} 的复核日期 {e.review_on.isoformat()} 已过，尚未续签或终止，"
                            "请尽快入户核实监护状况。"
                        ),
                        entity="child",
                        entity_id=e.child_id,
                        data={"urgent": True, "entrusted_id": e.id, "review_on": e.review_on.isoformat()},
                    )
                )
                continue
            for before in sorted(REVIEW_REMINDER_DAYS):
                if days <= before:
                    written += len(
                        await notifications.notify(
                            session,
                            directors,
                            key=f"guardianship:entrusted:{e.id}:review:{e.review_on.isoformat()}:{before}",
                            kind="guardianship_review_due",
                            title=f"委托监护 {max(days, 0)} 天后到期复核",
                            body=(
                                f"委托监护确认书 #{e.id} 将于 {e.review_on.isoformat()} 到期，请入户复核并办理续签或终止。"
                            ),
                            entity="child",
                            entity_id=e.child_id,
                            data={"entrusted_id": e.id, "review_on": e.review_on.isoformat(), "days_before": before},
                        )
                    )
                    break
    return written
