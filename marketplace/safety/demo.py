"""Demo data: this season's 十防 checks on children of Futian (most items done, some missed, with the director's
notes) and the graded warnings they and the files give, in all four grades: in the demo director's community a red
one (a critical-risk child with missed items), an orange one escalated to the street's supervisor (not acknowledged
in time), a yellow one acknowledged with the action taken, a blue one; then the daily job's grading of every child."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.auth.models import User
from marketplace.cases.models import Child
from marketplace.safety import rules, service
from marketplace.safety.models import SafetyCheck, SafetyWarning, SafetyWarningEvent
from marketplace.safety.taxonomy import PREVENTIONS, RISK_POINTS

ORDER = 39

# The director's words for a missed item, by prevention (synthetic, as every demo text).
MISSED_NOTES = {
    "drowning": "父母在外务工，暑期白天无人看护，已联系外婆商量照看",
    "mental_health": "孩子近期睡眠差、不愿说话，需转介心理咨询",
    "internet": "家中旧手机未开启未成年人模式，祖母不会设置",
    "abduction": "孩子说不出父亲电话，已写在书包内侧",
    "fire": "取暖器放在床边，已提醒挪开，下次走访复查",
    "traffic": "孩子骑电动车上学，已与监护人沟通",
    "electricity": "电动车在楼道充电，已告知物业",
    "food_poisoning": "冰箱有过期食品，已协助清理",
    "falls": "窗户无防护栏，已联系社区协调安装",
    "bullying": "孩子反映在校被同学推搡，已约班主任面谈",
}
# The grades the demo director's children carry, each with the risk levels to find a child of, in order.
GRADED = (
    ("red", ("critical", "high")),
    ("orange", ("high", "critical", "medium")),
    ("yellow", ("medium", "low", "high")),
    ("blue", ("low", "medium")),
)


def _plan(grade: str, risk: str, due: list[str], today: dt.date) -> tuple[str, int] | None:
    """A due prevention and a number of missed items that give a child of ``risk`` exactly ``grade`` today."""
    ordered = sorted(due, key=lambda c: rules.weight(c, today)[0] != "peak") if grade == "red" else due
    for code in ordered:
        _, each = rules.weight(code, today)
        for missed in range(1, len(PREVENTIONS[code].items) + 1):
            if rules.grade_of(RISK_POINTS[risk] + each * missed) == grade:
                return code, missed
    return None


def _answers(prevention: str, missed: int) -> tuple[dict[str, str], str]:
    items = list(PREVENTIONS[prevention].items)
    answers = {code: ("missed" if i < missed else "done") for i, code in enumerate(items)}
    notes = {code: MISSED_NOTES[prevention] for code, a in answers.items() if a == "missed"}
    return answers, json.dumps(notes, ensure_ascii=False) if notes else ""


def _add_check(session: AsyncSession, child: Child, prevention: str, missed: int, on: dt.date, by: int | None) -> None:
    answers, notes = _answers(prevention, missed)
    season = rules.season_of(on)
    session.add(
        SafetyCheck(
            child_id=child.id,
            community_id=child.community_id,
            street_id=child.street_id,
            prevention=prevention,
            season=season,
            current_key=f"{child.id}:{prevention}:{season}",
            answers=answers,
            notes=notes,
            household_note="同住的弟弟一并做了提醒" if missed and child.id % 3 == 0 else "",
            missed=sum(1 for a in answers.values() if a == "missed"),
            checked_on=on,
            checked_by=by,
            created_at=clock.now() - dt.timedelta(days=(clock.today() - on).days),
        )
    )


async def load(session: AsyncSession, ctx: dict[str, Any]) -> None:
    users: dict[str, int] = ctx.get("users", {})
    director_id = users.get("director")
    if director_id is None:
        return
    director = await session.get(User, director_id)
    if director is None or director.community_id is None:
        return
    today, now = clock.today(), clock.now()
    # In-season preventions of today (the all-year ones are always among them); a missed item weighs 10 or 20.
    due = [p.code for p in rules.due_preventions(today)]
    seasonal = [c for c in due if PREVENTIONS[c].months != tuple(range(1, 13))] or due
    kids = (
        await session.scalars(
            select(Child)
            .where(Child.community_id == director.community_id, Child.status == "active")
            .order_by(Child.id)
        )
    ).all()
    on = max(today - dt.timedelta(days=5), rules_season_start(today))
    used: set[int] = set()
    # The four graded children: visits not overdue, enough missed items of one prevention in season for the grade
    # (``_plan``: the red child's of a prevention at its peak when there is one: a fire item in December).
    for target, risks in GRADED:
        plan = None
        for risk in risks:
            kid = next(
                (k for k in kids if k.risk_level == risk and k.id not in used and k.next_visit_due >= today), None
            )
            plan = _plan(target, risk, due, today) if kid is not None else None
            if kid is not None and plan is not None:
                used.add(kid.id)
                _add_check(session, kid, plan[0], plan[1], on, director_id)
                break
    # Routine checks of this season's campaign on a dozen more of the community's children, all items done or one
    # missed, and on a few children of other communities (their own directors).
    for i, kid in enumerate([k for k in kids if k.id not in used][:12]):
        for prevention in due[:2]:
            _add_check(session, kid, prevention, 1 if i % 5 == 4 else 0, on - dt.timedelta(days=i % 4), director_id)
    others = (
        await session.scalars(
            select(Child)
            .where(Child.community_id != director.community_id, Child.status == "active", Child.risk_level == "high")
            .order_by(Child.id)
            .limit(8)
        )
    ).all()
    for kid in others:
        _add_check(session, kid, seasonal[0], 1, on, None)
    await session.flush()

    # The daily job's grading, as of yesterday for the demo's history, then the escalation of the late ones.
    all_kids = (await session.execute(select(Child))).scalars().all()
    ids = [k.id for k in all_kids]
    missed_by = await service.missed_now(session, ids, today)
    raised_at = now - dt.timedelta(days=4)
    for kid in all_kids:
        # The four graded children's warnings four days old, the rest's raised by this morning's run.
        at = raised_at if kid.id in used else now - dt.timedelta(hours=2)
        await service.grade_child(
            session, service.facts_of(kid), at, today, missed=missed_by.get(kid.id, {}), current=None
        )
    warnings = {
        w.child_id: w
        for w in (await session.scalars(select(SafetyWarning).where(SafetyWarning.open_child_id.is_not(None)))).all()
    }
    graded = [warnings[k] for k in sorted(used) if k in warnings]
    for w in graded:
        if w.grade == "yellow":
            # Acknowledged in time, with what was done, and a follow-up.
            w.status, w.acknowledged_at, w.acknowledged_by = (
                "acknowledged",
                raised_at + dt.timedelta(hours=20),
                director_id,
            )
            session.add(
                SafetyWarningEvent(
                    warning_id=w.id,
                    child_id=w.child_id,
                    kind="acknowledged",
                    grade=w.grade,
                    points=w.points,
                    note="已入户核实，和监护人一起逐项整改，约定两周后复查",
                    actor_id=director_id,
                    created_at=raised_at + dt.timedelta(hours=20),
                )
            )
            session.add(
                SafetyWarningEvent(
                    warning_id=w.id,
                    child_id=w.child_id,
                    kind="action",
                    grade=w.grade,
                    points=w.points,
                    note="已联系学校班主任共同关注",
                    actor_id=director_id,
                    created_at=raised_at + dt.timedelta(days=2),
                )
            )
        elif w.grade == "red":
            # Raised this morning: the director has 24 hours.
            w.created_at = w.graded_at = now - dt.timedelta(hours=3)
            w.ack_due_at = w.created_at + dt.timedelta(hours=24)
            for e in (
                await session.scalars(select(SafetyWarningEvent).where(SafetyWarningEvent.warning_id == w.id))
            ).all():
                e.created_at = w.created_at
        elif w.grade != "orange":
            # Others still within their time (the orange one is past its 72 hours: escalated below).
            w.ack_due_at = max(w.ack_due_at, now + dt.timedelta(days=3))
    # The orange one, not acknowledged within its 72 hours, goes up to the street's supervisor (urgently).
    await session.flush()
    await service.escalate_due(session, now)
    await session.flush()


def rules_season_start(today: dt.date) -> dt.date:
    """The first day of today's season (a check is dated within it)."""
    month = {"spring": 3, "summer": 6, "autumn": 9, "winter": 12}[rules.season_of(today).split("-")[1]]
    year = int(rules.season_of(today).split("-")[0])
    return dt.date(year, month, 1)
