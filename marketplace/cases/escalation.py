"""The escalation ladder: anything overdue in the closed loop climbs director → supervisor → district.

Step ``level`` of a ladder is reached ``level`` deadline-lengths after its clock started (``reached``). Each step
is one ``Escalation`` row (unique per entity, kind and level) and one notification per recipient, so a job run
twice, or two workers at once, tell nobody twice."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.cases import notifications
from marketplace.cases.models import Escalation
from marketplace.cases.taxonomy import ESCALATION_KINDS, ESCALATION_LEVELS

TOP: Final = 3  # 1 the child's director, 2 the street's supervisor, 3 the district


def reached(started: dt.datetime, hours: int, now: dt.datetime) -> int:
    """The highest step due by ``now`` (0 before the deadline), at most the district's."""
    if hours <= 0 or now < started:
        return 0
    return min(TOP, int((now - started) / dt.timedelta(hours=hours)))


def due_at(started: dt.datetime, hours: int, level: int) -> dt.datetime:
    return started + dt.timedelta(hours=hours * level)


async def recipients(session: AsyncSession, level: int, *, community_id: int, street_id: int) -> list[int]:
    if level == 1:
        return await notifications.community_directors(session, community_id)
    if level == 2:
        return await notifications.street_supervisors(session, street_id)
    return await notifications.district_admins(session)


async def climb(
    session: AsyncSession,
    *,
    entity: str,
    entity_id: int,
    kind: str,
    level: int,
    due: dt.datetime,
    community_id: int,
    street_id: int,
    child_id: int | None,
    body: str,
    data: dict[str, Any] | None = None,
    also: Sequence[int] = (),
) -> bool:
    """Record step ``level`` for (entity, entity_id, kind) and tell that step's people (and ``also`` those, when a
    step goes to more than one level at once); False if already taken."""
    taken = await session.scalar(
        select(Escalation.id).where(
            Escalation.entity == entity,
            Escalation.entity_id == entity_id,
            Escalation.kind == kind,
            Escalation.level == level,
        )
    )
    if taken is not None:
        return False
    people = list(
        dict.fromkeys([*await recipients(session, level, community_id=community_id, street_id=street_id), *also])
    )
    try:
        async with session.begin_nested():
            session.add(
                Escalation(
                    entity=entity,
                    entity_id=entity_id,
                    kind=kind,
                    level=level,
                    due_at=due,
                    child_id=child_id,
                    recipients=people,
                )
            )
    except IntegrityError:
        return False  # another worker took this step first
    await notifications.notify(
        session,
        people,
        key=f"escalation:{entity}:{entity_id}:{kind}:{level}",
        kind=f"escalation_{kind}",
        title=f"{ESCALATION_KINDS.get(kind, kind)}（{ESCALATION_LEVELS.get(level, '')}）",
        body=body,
        entity=entity,
        entity_id=entity_id,
        data={"level": level, "kind": kind, "due_at": due.isoformat(), **(data or {})},
    )
    return True


async def steps_of(session: AsyncSession, entity: str, entity_ids: list[int]) -> list[Escalation]:
    """The ladder steps taken for these entities, oldest first."""
    if not entity_ids:
        return []
    rows = await session.scalars(
        select(Escalation)
        .where(Escalation.entity == entity, Escalation.entity_id.in_(entity_ids))
        .order_by(Escalation.created_at, Escalation.id)
    )
    return list(rows.all())
