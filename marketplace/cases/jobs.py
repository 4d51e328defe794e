"""Periodic work of the cases feature (names registered in ``marketplace.tasks.JOBS``; the beat schedule in
``workers/beat.py`` runs them)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Final

from sqlalchemy import Exists, and_, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from marketplace import clock, tasks
from marketplace.auth.models import User
from marketplace.cases import escalation, notifications
from marketplace.cases import retention as retention  # registers cases.purge_expired (the retention rule)
from marketplace.cases.models import Child, Escalation, MandatoryReport
from marketplace.cases.taxonomy import REPORT_KINDS
from marketplace.db import Database

# ---------------------------------------------------------------- mandatory report acknowledgements
#
# A mandatory report must be acknowledged by the street's supervisor within ``report_ack_supervisor_hours`` and by
# the district within ``report_ack_district_hours`` (``Deadlines``). The ladder's steps (``escalation.climb``, kind
# "report_ack", one row per report and level) are:
#   level 2 — the supervisor has not acknowledged past ``supervisor_ack_due_at``: the street's supervisors are
#             reminded and the district is told (the step's recipients list both);
#   level 3 — the district has not acknowledged past ``district_ack_due_at``: the district admins are told again.
# Level 3 names the district's own lateness because an escalation step is unique per level; the supervisor's
# lateness, which also goes up to the district, is recorded as level 2. A closed report climbs no further.

REPORT_ACK_KIND = "report_ack"
REPORT_ACK_BATCH = 500


def _step_taken(level: int) -> Exists:
    return exists().where(
        Escalation.entity == "mandatory_report",
        Escalation.entity_id == MandatoryReport.id,
        Escalation.kind == REPORT_ACK_KIND,
        Escalation.level == level,
    )


async def _supervisor_late(session: AsyncSession, report: MandatoryReport, hours: int) -> bool:
    assert report.supervisor_ack_due_at is not None
    body = (
        f"强制报告 {report.id}（{REPORT_KINDS.get(report.kind, report.kind)}）提交已超过 {hours} 小时，"
        "街道督导员仍未签收，请督促核实处置。"
    )
    # The supervisor's lateness goes up to the district in the same step.
    return await escalation.climb(
        session,
        entity="mandatory_report",
        entity_id=report.id,
        kind=REPORT_ACK_KIND,
        level=2,
        due=report.supervisor_ack_due_at,
        community_id=report.community_id,
        street_id=report.street_id,
        child_id=report.child_id,
        body=body,
        data={"report_id": report.id},
        also=await notifications.district_admins(session),
    )


async def _district_late(session: AsyncSession, report: MandatoryReport, hours: int) -> bool:
    assert report.district_ack_due_at is not None
    return await escalation.climb(
        session,
        entity="mandatory_report",
        entity_id=report.id,
        kind=REPORT_ACK_KIND,
        level=3,
        due=report.district_ack_due_at,
        community_id=report.community_id,
        street_id=report.street_id,
        child_id=report.child_id,
        body=(
            f"强制报告 {report.id}（{REPORT_KINDS.get(report.kind, report.kind)}）提交已超过 {hours} 小时，"
            "区民政局仍未签收。"
        ),
        data={"report_id": report.id},
    )


@tasks.job("cases.report_ack_overdue")
async def report_ack_overdue(db: Database) -> int:
    """Escalate mandatory reports not acknowledged in time (see the header above); returns the steps taken.
    Idempotent: a step already taken is neither looked at again nor repeated."""
    d = db.settings.deadlines
    now = clock.now()
    taken = 0
    async with db.session() as session:
        supervisor_late = and_(
            MandatoryReport.supervisor_ack_at.is_(None),
            MandatoryReport.supervisor_ack_due_at < now,
            ~_step_taken(2),
        )
        district_late = and_(
            MandatoryReport.district_ack_at.is_(None),
            MandatoryReport.district_ack_due_at < now,
            ~_step_taken(3),
        )
        stmt = (
            select(MandatoryReport)
            .where(MandatoryReport.status != "closed", or_(supervisor_late, district_late))
            .order_by(MandatoryReport.id)
            .limit(REPORT_ACK_BATCH)
        )
        for report in (await session.scalars(stmt)).all():
            due = report.supervisor_ack_due_at
            if report.supervisor_ack_at is None and due is not None and due < now:
                taken += await _supervisor_late(session, report, d.report_ack_supervisor_hours)
            due = report.district_ack_due_at
            if report.district_ack_at is None and due is not None and due < now:
                taken += await _district_late(session, report, d.report_ack_district_hours)
    return taken


# ---------------------------------------------------------------- overdue visits

VISIT_KIND: Final = "visit"
# A child's overdue visit is one ladder per due date: a new visit sets a new due date, and a new ladder.
VISIT_ENTITY_PREFIX: Final = escalation.VISIT_ENTITY_PREFIX
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
            {
                "entity": visit_entity(due),
                "entity_id": cid,
                "kind": VISIT_KIND,
                "level": level,
                "due_at": overdue_from(due, days_after),
                "child_id": cid,
                "recipients": list(told(r)),
            }
            for r in chunk
            for cid, due in ((r[0], r[3]),)
            if (visit_entity(due), cid) not in taken
        ]
        if not fresh:
            continue
        try:
            async with session.begin_nested():
                session.add_all([Escalation(**step) for step in fresh])
        except IntegrityError:
            # Another run took some of these steps at the same moment: add the rest one by one.
            for step in fresh:
                try:
                    async with session.begin_nested():
                        session.add(Escalation(**step))
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
