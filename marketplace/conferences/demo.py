"""Demo data: two case conferences in the demo director's community. One was held ten days ago for a left-behind
child the street's supervisor convened with the school and the police station: minutes and four decisions (one
done, one overdue, two open, one owned by an organization serving the child through a referral, when there is
one). The other is planned for next week, convened by the director with the residents' committee."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.auth.models import User
from marketplace.cases import ports
from marketplace.cases.models import Child
from marketplace.conferences.models import Conference, Decision, Participant

ORDER = 38
# Organization staff the authorization suite signs in as: never made a participant here (it reads these as others').
NOT_INVITED = frozenset({"org"})


def _at(days: int, hour: int) -> dt.datetime:
    day = clock.today() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(hour, 0), tzinfo=clock.DISTRICT_TZ).astimezone(dt.UTC)


async def _serving_staff(session: AsyncSession, child_id: int) -> int | None:
    """An active staff account of an organization serving the child (accepted or in service), if any."""
    for org_id in await ports.serving_organizations(session, child_id):
        uid = await session.scalar(
            select(User.id)
            .where(
                User.organization_id == org_id,
                User.role == "org_staff",
                User.is_active.is_(True),
                User.username.not_in(NOT_INVITED),
            )
            .order_by(User.id)
            .limit(1)
        )
        if uid is not None:
            return int(uid)
    return None


async def load(session: AsyncSession, ctx: dict[str, Any]) -> None:
    users: dict[str, int] = ctx.get("users", {})
    director, supervisor = users.get("director"), users.get("supervisor")
    if director is None or supervisor is None:
        return
    me = await session.get(User, director)
    if me is None or me.community_id is None:
        return
    kids = list(
        (
            await session.scalars(
                select(Child)
                .where(Child.community_id == me.community_id, Child.status == "active")
                .order_by(Child.id)
                .limit(40)
            )
        ).all()
    )
    if len(kids) < 2:
        return
    # A left-behind child for the held conference (its topic is theirs), the next child for the planned one.
    first = next((k for k in kids if "left_behind" in (k.categories or [])), kids[0])
    second = next(k for k in kids if k.id != first.id)
    staff = await _serving_staff(session, first.id)

    held = Conference(
        child_id=first.id,
        community_id=first.community_id,
        street_id=first.street_id,
        topic="父母均在外务工，孩子近月多次缺课、情绪低落，研究监护与就学支持",
        scheduled_at=_at(-10, 15),
        place="社区党群服务中心二楼会议室",
        status="held",
        minutes=(
            "班主任通报：孩子本学期缺课 6 天，上课注意力不集中。社区民警通报：已联系到在东莞务工的父亲，"
            "父亲表示春节前无法返乡。儿童主任通报：祖母年迈，照料吃力。会议商定：学校安排心理老师每周谈心一次；"
            "派出所协助督促父亲落实委托监护；儿童主任入户核实委托照料人情况；机构开展个案辅导。"
        ),
        held_at=_at(-10, 16),
        recorded_by=supervisor,
        convened_by=supervisor,
        created_at=_at(-14, 9),
    )
    session.add(held)
    await session.flush()
    school = Participant(
        conference_id=held.id,
        kind="school",
        name="陈老师",
        organisation="福田区福山小学",
        contact="班主任",
        attended=True,
    )
    police = Participant(
        conference_id=held.id,
        kind="police",
        name="刘警官",
        organisation="福田派出所",
        contact="社区民警",
        attended=True,
    )
    inside = [
        Participant(conference_id=held.id, user_id=uid, kind="internal", attended=True)
        for uid in (supervisor, director)
    ]
    if staff is not None:
        inside.append(Participant(conference_id=held.id, user_id=staff, kind="internal", attended=True))
    session.add_all([*inside, school, police])
    await session.flush()
    decisions = [
        Decision(
            text="学校安排心理老师每周与孩子谈心一次，并反馈出勤情况",
            owner_party_id=school.id,
            responsible_id=director,
            due_on=clock.today() - dt.timedelta(days=3),
            status="done",
            done_note="心理老师已谈心两次，本周全勤",
            done_at=_at(-4, 11),
            done_by=director,
        ),
        Decision(
            text="派出所协助督促父亲签署委托监护确认书",
            owner_party_id=police.id,
            responsible_id=supervisor,
            due_on=clock.today() - dt.timedelta(days=2),
        ),
        Decision(
            text="入户核实委托照料人（姑姑）的照料条件",
            owner_user_id=director,
            responsible_id=director,
            due_on=clock.today() + dt.timedelta(days=3),
        ),
    ]
    if staff is not None:
        decisions.append(
            Decision(
                text="机构社工开展个案辅导，每两周一次",
                owner_user_id=staff,
                responsible_id=staff,
                due_on=clock.today() + dt.timedelta(days=14),
            )
        )
    for d in decisions:
        d.conference_id, d.child_id, d.created_by, d.created_at = held.id, first.id, supervisor, _at(-10, 16)
    session.add_all(decisions)

    planned = Conference(
        child_id=second.id,
        community_id=second.community_id,
        street_id=second.street_id,
        topic="孩子独自在家时间较长，研究放学后照料安排",
        scheduled_at=_at(5, 10),
        place="社区居委会会议室",
        status="planned",
        convened_by=director,
        created_at=_at(-1, 9),
    )
    session.add(planned)
    await session.flush()
    session.add_all(
        [
            Participant(conference_id=planned.id, user_id=director, kind="internal"),
            Participant(conference_id=planned.id, user_id=supervisor, kind="internal"),
            Participant(
                conference_id=planned.id, kind="residents_committee", name="周主任", organisation="福山社区居委会"
            ),
        ]
    )
    await session.flush()
    ctx["conferences"] = [held.id, planned.id]
