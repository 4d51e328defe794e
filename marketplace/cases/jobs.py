"""Periodic work of the cases feature (names registered in ``marketplace.tasks.JOBS``; the beat schedule in
``workers/beat.py`` runs them)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Final

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from marketplace import clock, tasks
from marketplace.auth.models import User
from marketplace.cases import notifications
from marketplace.cases.models import Child, Escalation
from marketplace.db import Database

VISIT_KIND: Final = "visit"
# A child's overdue visit is one ladder per due date: a new visit sets a new due date, and a new ladder.
VISIT_ENTITY_PREFIX: Final = "visit_due:"
CHUNK: Final = 1000
# (child id, community id, street id, the visit's due date)
Row = tuple[int, int, int, dt.date]


def visit_entity(due: dt.date) -> str:
    """The ``Escalation.entity`` of a child's visit due on ``due`` (``entity_id`` is the child's id)."""
    return f"{VISIT_ENTITY_PREFIX}{due.isoformat()}"


def overdue_from(due: dt.date, days_after: int = 0) -> dt.datetime:
    """The instant a visit due on ``due`` is overdue (the start of the next district day), ``days_after`` later."""
    day = due + dt.timedelta(days=1 + days_after)
    return dt.datetime.combine(day, dt.time(), tzinfo=clock.DISTRICT_TZ).astimezone(dt.UTC)


@tasks.job("cases.visit_alerts")
async def visit_alerts(db: Database) -> int:
    """Alert overdue home visits, once a day: each community's directors get one digest of its active children whose
    next visit is past due; ``deadlines.visit_grace_days`` later, the street's supervisors get one digest of their
    street's. Each child's due date climbs an ``Escalation`` ladder of kind ``visit`` (level 1 the director, level 2
    the supervisor) so the timeline shows who was told when. Idempotent per day; returns the digests written."""
    today = clock.today()
    grace = db.settings.deadlines.visit_grace_days
    async with db.session() as session:
        rows = (
            await session.execute(
                select(Child.id, Child.community_id, Child.street_id, Child.next_visit_due)
                .where(Child.status == "active", Child.next_visit_due < today)
                .order_by(Child.id)
            )
        ).all()
        if not rows:
            return 0
        late = [(int(cid), int(com), int(street), due) for cid, com, street, due in rows]
        past_grace = [row for row in late if row[3] < today - dt.timedelta(days=grace)]
        directors = await _people(session, "child_director", User.community_id, {r[1] for r in late})
        supervisors = await _people(session, "child_supervisor", User.street_id, {r[2] for r in past_grace})
        await _record_steps(session, late, 1, lambda r: directors.get(r[1], []), 0)
        await _record_steps(session, past_grace, 2, lambda r: supervisors.get(r[2], []), grace)
        written = await _digests(session, today, late, 1, directors, lambda r: r[1], "community_id")
        written += await _digests(session, today, past_grace, 2, supervisors, lambda r: r[2], "street_id")
        return written


async def _people(
    session: AsyncSession, role: str, column: InstrumentedAttribute[int | None], places: set[int]
) -> dict[int, list[int]]:
    """The active users of ``role`` for each place (community or street), in one query."""
    out: dict[int, list[int]] = defaultdict(list)
    if not places:
        return out
    rows = await session.execute(
        select(column, User.id).where(User.role == role, User.is_active.is_(True), column.in_(places)).order_by(User.id)
    )
    for place, uid in rows.all():
        if place is not None:
            out[int(place)].append(int(uid))
    return out


async def _record_steps(
    session: AsyncSession,
    rows: Sequence[Row],
    level: int,
    told: Callable[[Row], list[int]],
    days_after: int,
) -> None:
    """One ``Escalation`` row per child and due date at this level, unless taken already (read a chunk at a time)."""
    for chunk in _chunks(rows):
        taken = set(
            (
                await session.execute(
                    select(Escalation.entity, Escalation.entity_id).where(
                        Escalation.kind == VISIT_KIND,
                        Escalation.level == level,
                        Escalation.child_id.in_([r[0] for r in chunk]),
                        Escalation.entity.like(f"{VISIT_ENTITY_PREFIX}%"),
                    )
                )
            ).all()
        )
        fresh = [
            Escalation(
                entity=visit_entity(due),
                entity_id=cid,
                kind=VISIT_KIND,
                level=level,
                due_at=overdue_from(due, days_after),
                child_id=cid,
                recipients=list(told(r)),
            )
            for r in chunk
            for cid, due in ((r[0], r[3]),)
            if (visit_entity(due), cid) not in taken
        ]
        if not fresh:
            continue
        try:
            async with session.begin_nested():
                session.add_all(fresh)
        except IntegrityError:
            # Another run took some of these steps at the same moment: add the rest one by one.
            for step in fresh:
                try:
                    async with session.begin_nested():
                        session.add(
                            Escalation(
                                entity=step.entity,
                                entity_id=step.entity_id,
                                kind=step.kind,
                                level=step.level,
                                due_at=step.due_at,
                                child_id=step.child_id,
                                recipients=step.recipients,
                            )
                        )
                except IntegrityError:
                    continue


async def _digests(
    session: AsyncSession,
    today: dt.date,
    rows: Sequence[Row],
    level: int,
    people: dict[int, list[int]],
    place_of: Callable[[Row], int],
    place_field: str,
) -> int:
    """One notification per recipient per day listing the overdue children of their place (ids in ``data``)."""
    by_place: dict[int, list[Row]] = defaultdict(list)
    for r in rows:
        by_place[place_of(r)].append(r)
    written = 0
    for place, children in sorted(by_place.items()):
        ids = [r[0] for r in children]
        oldest = min(r[3] for r in children)
        if level == 1:
            title = f"走访逾期提醒：{len(ids)} 名儿童"
            body = f"本社区有 {len(ids)} 名儿童已过约定走访日期，最早一名应于 {oldest.isoformat()} 走访，请尽快安排。"
        else:
            title = f"走访逾期升级：{len(ids)} 名儿童"
            body = f"本街道有 {len(ids)} 名儿童走访逾期超过宽限期，最早一名应于 {oldest.isoformat()} 走访，请督促儿童主任。"
        added = await notifications.notify(
            session,
            people.get(place, []),
            key=f"visit-alerts:{today.isoformat()}:{level}:{place}",
            kind="escalation_visit",
            title=title,
            body=body,
            entity=place_field.removesuffix("_id"),
            entity_id=place,
            data={
                "level": level,
                "kind": VISIT_KIND,
                "date": today.isoformat(),
                place_field: place,
                "count": len(ids),
                "child_ids": ids,
                "oldest_due": oldest.isoformat(),
            },
        )
        written += len(added)
    return written


def _chunks(rows: Sequence[Row]) -> Iterable[Sequence[Row]]:
    for i in range(0, len(rows), CHUNK):
        yield rows[i : i + CHUNK]
