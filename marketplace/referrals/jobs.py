"""Periodic referral work: the escalation ladder of referrals left unanswered, or accepted and not started, past
their need's urgency's deadline (``marketplace.referrals.deadlines``).

Step 1 of a ladder is reached one deadline-length after its clock started (the sending, or the acceptance): the
child's director is told, and the provider's staff are reminded; step 2 at two lengths, the street's supervisors;
step 3 at three, the district. Each step is one ``Escalation`` row (``cases.escalation.climb``), so a job run twice,
or by two workers at once, tells nobody twice."""

from __future__ import annotations

import datetime as dt
from typing import Final

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock, tasks
from marketplace.cases import escalation, notifications
from marketplace.cases.models import Need
from marketplace.db import Database
from marketplace.referrals import deadlines
from marketplace.referrals.models import Referral
from marketplace.settings import Deadlines

BATCH: Final = 1000
ENTITY: Final = "referral"


@tasks.job("referrals.escalate_overdue")
async def escalate_overdue(db: Database) -> int:
    """Take every ladder step reached and not yet taken by referrals still ``sent`` past their accept deadline or
    ``accepted`` and not started past their first-contact deadline; returns the number of steps taken. Idempotent."""
    rules = db.settings.deadlines
    taken = 0
    after = 0
    while True:
        now = clock.now()
        async with db.session() as session:
            stmt = (
                select(Referral, Need.urgency)
                .join(Need, Need.id == Referral.need_id)
                .where(Referral.id > after, _next_step_due(rules, now))
                .order_by(Referral.id)
                .limit(BATCH)
            )
            if not db.settings.is_sqlite:
                stmt = stmt.with_for_update(of=Referral, skip_locked=True)
            rows = [(r, int(u)) for r, u in (await session.execute(stmt)).all()]
            if not rows:
                return taken
            done = await steps_taken(session, [r.id for r, _ in rows])
            staff: dict[int, list[int]] = {}  # each organization's staff, read once a batch
            for referral, urgency in rows:
                taken += await _climb(session, rules, referral, urgency, now, done, staff)
            after = rows[-1][0].id
        if len(rows) < BATCH:
            return taken


async def steps_taken(session: AsyncSession, referral_ids: list[int]) -> set[tuple[int, str, int]]:
    """(referral id, kind, level) of every ladder step already taken for these referrals, in one query."""
    return {(e.entity_id, e.kind, e.level) for e in await escalation.steps_of(session, ENTITY, referral_ids)}


def _ladder(referral: Referral, urgency: int, rules: Deadlines) -> tuple[str, dt.datetime, int] | None:
    """The ladder a referral is on now: (kind, when its clock started, deadline hours)."""
    if referral.status == "sent":
        return "accept", referral.sent_at, deadlines.accept_hours(rules, urgency)
    if referral.status == "accepted" and referral.accepted_at is not None:
        return "first_contact", referral.accepted_at, deadlines.first_contact_hours(rules, urgency)
    return None


def current_level(referral: Referral) -> int:
    """The step reached on the referral's current ladder: an accepted referral's first-contact ladder starts from 0
    whatever its acceptance ladder reached."""
    if referral.status == "accepted" and (
        referral.escalated_at is None or referral.accepted_at is None or referral.escalated_at <= referral.accepted_at
    ):
        return 0
    return referral.escalation_level or 0


async def _climb(
    session: AsyncSession,
    rules: Deadlines,
    referral: Referral,
    urgency: int,
    now: dt.datetime,
    done: set[tuple[int, str, int]],
    staff: dict[int, list[int]],
) -> int:
    ladder = _ladder(referral, urgency, rules)
    if ladder is None:
        return 0
    kind, started, hours = ladder
    level = escalation.reached(started, hours, now)
    if level <= current_level(referral):
        return 0
    elapsed = int((now - started) / dt.timedelta(hours=1))
    due = escalation.due_at(started, hours, 1)
    deadline = due.astimezone(clock.DISTRICT_TZ).strftime("%Y-%m-%d %H:%M")  # the district's wall clock
    if kind == "accept":
        body = (
            f"转介 {referral.id}（紧急程度 {urgency}）已发出 {elapsed} 小时，机构仍未接收或拒绝"
            f"（时限 {hours} 小时，应于 {deadline} 前答复）。"
        )
    else:
        body = (
            f"转介 {referral.id}（紧急程度 {urgency}）已接收 {elapsed} 小时，机构仍未开始服务"
            f"（首次服务接触时限 {hours} 小时，应于 {deadline} 前）。"
        )
    data = {
        "referral_id": referral.id,
        "urgency": urgency,
        "hours": elapsed,
        "deadline_hours": hours,
        "organization_id": referral.organization_id,
        "service_id": referral.service_id,
    }
    taken = 0
    for step in range(1, level + 1):
        if (referral.id, kind, step) in done:
            continue
        if await escalation.climb(
            session,
            entity=ENTITY,
            entity_id=referral.id,
            kind=kind,
            level=step,
            due=escalation.due_at(started, hours, step),
            community_id=referral.community_id,
            street_id=referral.street_id,
            child_id=referral.child_id,
            body=body,
            data=data,
        ):
            taken += 1
        if step == 1:
            # The provider is reminded with the director: it is the one that must answer or start.
            if referral.organization_id not in staff:
                staff[referral.organization_id] = await notifications.organization_staff(
                    session, referral.organization_id
                )
            await notifications.notify(
                session,
                staff[referral.organization_id],
                key=f"escalation-provider:{ENTITY}:{referral.id}:{kind}",
                kind=f"escalation_{kind}",
                title="转介即将升级督办" if kind == "accept" else "请尽快开始服务",
                body=body,
                entity=ENTITY,
                entity_id=referral.id,
                data={**data, "level": 1, "kind": kind},
            )
    referral.escalation_level = level
    referral.escalated_at = now
    return taken


def _next_step_due(rules: Deadlines, now: dt.datetime) -> ColumnElement[bool]:
    """Referrals whose next ladder step is due by ``now``: a sent one ``level + 1`` accept deadlines after sending, an
    accepted one ``level + 1`` first-contact deadlines after accepting (its level counted from the acceptance). One
    comparison per urgency and level, so the query reads only what has a step to take."""
    fresh_after_accept = or_(
        Referral.escalated_at.is_(None),
        Referral.escalated_at <= Referral.accepted_at,
    )
    arms: list[ColumnElement[bool]] = []
    for level in range(escalation.TOP):
        sent_level = Referral.escalation_level == level
        accepted_level = fresh_after_accept if level == 0 else and_(~fresh_after_accept, sent_level)
        if level == 0:
            sent_level = or_(Referral.escalation_level.is_(None), Referral.escalation_level == 0)
        for urgency, match in deadlines.urgency_clauses(rules):
            arms.append(
                and_(
                    Referral.status == "sent",
                    match,
                    sent_level,
                    Referral.sent_at <= now - dt.timedelta(hours=deadlines.accept_hours(rules, urgency) * (level + 1)),
                )
            )
            arms.append(
                and_(
                    Referral.status == "accepted",
                    Referral.accepted_at.is_not(None),
                    match,
                    accepted_level,
                    Referral.accepted_at
                    <= now - dt.timedelta(hours=deadlines.first_contact_hours(rules, urgency) * (level + 1)),
                )
            )
    return or_(false(), *arms)
