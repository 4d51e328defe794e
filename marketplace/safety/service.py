"""十防 seasonal checks and graded warnings, with the scope of the children's files on every object.

Who sees what: a warning or a check belongs to its child's community; the community's director sees them, the
street's supervisor the street's, the district (and the auditor) all; organizations nothing (403 on the lists, 404 on
an object). The child's director writes checks, acknowledges a warning with the action taken and records further
actions; the street's supervisor and the district add notes to an escalated warning. Anyone else who can see the
warning is refused 403, the rest told it does not exist.

When warnings change: ``grade_child`` is run by the service after every check written (the child's warning is current
at once) and by the daily job ``safety.grade`` (``jobs``) for every child: visits recorded, risk levels changed,
files closed and the turn of the season reach the warnings through it. Both are idempotent: the same facts give
the same warning and no new history row. See ``rules`` for the points and grades."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.audit import service as audit
from marketplace.auth.models import User
from marketplace.auth.principal import Principal
from marketplace.cases import notifications
from marketplace.cases import service as cases
from marketplace.cases.models import Child
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.safety import rules
from marketplace.safety.models import SafetyCheck, SafetyWarning, SafetyWarningEvent
from marketplace.safety.schemas import (
    SafetyAcknowledgeIn,
    SafetyActionIn,
    SafetyCheckIn,
    SafetyCheckItemOut,
    SafetyCheckOut,
    SafetyGradeCounts,
    SafetyPreventionItemOut,
    SafetyPreventionList,
    SafetyPreventionOut,
    SafetyReasonOut,
    SafetyWarningEventOut,
    SafetyWarningOut,
)
from marketplace.safety.taxonomy import (
    ACK_HOURS,
    ANSWERS,
    EVENT_KINDS,
    GRADE_RANK,
    GRADES,
    PREVENTIONS,
    WARNING_STATUSES,
)

CHECK_FIELDS = ("prevention", "season", "answers", "notes", "household_note")
WARNING_FIELDS = ("grade", "points", "reasons", "status", "history")
# A check may be recorded for a day up to this long ago (a paper form typed in later), never in the future.
BACKDATE_DAYS = 92
# Who is told of a new warning (or a raise to it) at once: the community's directors.
NOTIFY_GRADES = frozenset({"red", "orange"})
URGENT_GRADES = frozenset({"red"})
URGENT_ESCALATION_GRADES = frozenset({"red", "orange"})
STATUS_FILTERS = ("active", "open", "acknowledged", "escalated", "resolved")


def preventions(today: dt.date) -> SafetyPreventionList:
    due = {p.code for p in rules.due_preventions(today)}
    season = rules.season_of(today)
    return SafetyPreventionList(
        today=today,
        season=season,
        season_label=rules.season_label(season),
        items=[
            SafetyPreventionOut(
                code=p.code,
                label=p.label,
                months=list(p.months),
                peak_months=list(p.peak),
                season_note=p.season_note,
                due_now=p.code in due,
                items=[SafetyPreventionItemOut(code=k, label=v) for k, v in p.items.items()],
            )
            for p in PREVENTIONS.values()
        ],
    )


# ---------------------------------------------------------------- checks


def _check_not_found(check_id: int) -> NotFound:
    return NotFound(f"安全检查 {check_id} 不存在 (safety check not found)")


def _current_key(child_id: int, prevention: str, season: str) -> str:
    return f"{child_id}:{prevention}:{season}"


def _validate_items(data: SafetyCheckIn) -> dict[str, str]:
    p = PREVENTIONS.get(data.prevention)
    if p is None:
        raise Invalid.field("prevention", f"未知的防范类别 {data.prevention} (unknown prevention)")
    answers: dict[str, str] = {}
    for item in data.items:
        if item.code not in p.items:
            raise Invalid.field("items", f"{p.label}没有检查项 {item.code} (unknown item)")
        if item.code in answers:
            raise Invalid.field("items", f"检查项 {p.items[item.code]} 重复 (item answered twice)")
        answers[item.code] = item.answer
    missing = [label for code, label in p.items.items() if code not in answers]
    if missing:
        raise Invalid.field("items", f"请逐项填写：{'、'.join(missing)} (every item must be answered)")
    for item in data.items:
        if item.answer == "missed" and not item.note.strip():
            raise Invalid.field(
                "items", f"“{p.items[item.code]}”未落实，请写明原因或跟进安排 (a missed item needs a note)"
            )
    return answers


def _encode_notes(data: SafetyCheckIn) -> str:
    notes = {i.code: i.note.strip() for i in data.items if i.note.strip()}
    return json.dumps(notes, ensure_ascii=False) if notes else ""


def _decode_notes(text: str) -> dict[str, str]:
    if not text:
        return {}
    try:
        found = json.loads(text)
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


async def create_check(session: AsyncSession, principal: Principal, child_id: int, data: SafetyCheckIn) -> SafetyCheck:
    """A completed checklist by the child's director (one current per child, prevention and season; a second is
    refused 409 unless it names the one it corrects in ``supersedes_id``). The child's warning is regraded at once."""
    child = await cases.load_child(session, child_id, lock=True)
    cases.require_director(principal, child)
    if child.status != "active":
        raise Conflict("档案已结案，不能再记录安全检查 (the file is closed)", code="child_closed")
    answers = _validate_items(data)
    today = clock.today()
    on = data.checked_on or today
    if on > today:
        raise Invalid.field("checked_on", "检查日期不能晚于今天 (check date in the future)")
    if on < today - dt.timedelta(days=BACKDATE_DAYS):
        raise Invalid.field("checked_on", f"检查日期不能早于 {BACKDATE_DAYS} 天前 (check date too old)")
    season = rules.season_of(on)
    key = _current_key(child.id, data.prevention, season)
    current = await session.scalar(select(SafetyCheck).where(SafetyCheck.current_key == key).with_for_update())
    if current is not None and data.supersedes_id != current.id:
        label = PREVENTIONS[data.prevention].label
        raise Conflict(
            f"本季（{rules.season_label(season)}）已完成{label}检查（#{current.id}），如需更正请注明更正的检查 "
            "(this season's check exists; a correction names it in supersedes_id)",
            code="check_exists",
        )
    if current is None and data.supersedes_id is not None:
        raise Invalid.field("supersedes_id", "要更正的检查不是本季该类别的当前检查 (not this season's current check)")
    if current is not None:
        current.current_key = None
        await session.flush()
    check = SafetyCheck(
        child_id=child.id,
        community_id=child.community_id,
        street_id=child.street_id,
        prevention=data.prevention,
        season=season,
        current_key=key,
        answers=answers,
        notes=_encode_notes(data),
        household_note=data.household_note.strip(),
        missed=sum(1 for a in answers.values() if a == "missed"),
        checked_on=on,
        checked_by=principal.account_id,
        supersedes_id=current.id if current is not None else None,
        created_at=clock.now(),
    )
    try:
        async with session.begin_nested():
            session.add(check)
    except IntegrityError:
        raise Conflict(
            "本季该类别检查刚刚已由他人记录，请刷新后查看 (recorded a moment ago)", code="check_exists"
        ) from None
    if current is not None:
        current.superseded_by_id = check.id
    await session.flush()
    await audit.record(
        session,
        principal,
        "create",
        "safety_check",
        check.id,
        CHECK_FIELDS,
        {"child_id": child.id, "supersedes_id": check.supersedes_id},
    )
    await grade_child(session, facts_of(child), clock.now(), today)
    return check


async def _names(session: AsyncSession, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    rows = await session.execute(select(User.id, User.display_name).where(User.id.in_(wanted)))
    return {int(i): str(n or "") for i, n in rows.all()}


async def present_checks(session: AsyncSession, checks: Sequence[SafetyCheck]) -> list[SafetyCheckOut]:
    names = await _names(session, {c.checked_by for c in checks})
    out = []
    for c in checks:
        p = PREVENTIONS.get(c.prevention)
        notes = _decode_notes(c.notes)
        labels = p.items if p else {}
        out.append(
            SafetyCheckOut(
                id=c.id,
                child_id=c.child_id,
                prevention=c.prevention,
                prevention_label=p.label if p else c.prevention,
                season=c.season,
                season_label=rules.season_label(c.season),
                items=[
                    SafetyCheckItemOut(
                        code=code,
                        label=labels.get(code, code),
                        answer=answer,
                        answer_label=ANSWERS.get(answer, answer),
                        note=notes.get(code, ""),
                    )
                    for code, answer in c.answers.items()
                ],
                missed=c.missed,
                household_note=c.household_note,
                checked_on=c.checked_on,
                checked_by=c.checked_by,
                checked_by_name=names.get(c.checked_by or 0, ""),
                current=c.current_key is not None,
                supersedes_id=c.supersedes_id,
                superseded_by_id=c.superseded_by_id,
                created_at=c.created_at,
            )
        )
    return out


async def list_checks(
    session: AsyncSession, principal: Principal, child_id: int, *, limit: int, offset: int
) -> tuple[list[SafetyCheck], int, Child]:
    """A child's checks, newest first (superseded ones included, marked)."""
    child = await cases.visible_child(session, principal, child_id)
    stmt = select(SafetyCheck).where(SafetyCheck.child_id == child.id)
    total = int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = await session.scalars(
        stmt.order_by(SafetyCheck.checked_on.desc(), SafetyCheck.id.desc()).limit(limit).offset(offset)
    )
    await audit.record_read(session, principal, "read", "child", [child.id], ["safety_checks"])
    return list(rows.all()), total, child


async def due_status(session: AsyncSession, child_id: int, today: dt.date) -> tuple[str, list[str], list[str]]:
    """This season's key, the preventions due today, and those of them without a current check this season."""
    season = rules.season_of(today)
    due = [p.code for p in rules.due_preventions(today)]
    done = set(
        (
            await session.scalars(
                select(SafetyCheck.prevention).where(
                    SafetyCheck.child_id == child_id,
                    SafetyCheck.season == season,
                    SafetyCheck.current_key.is_not(None),
                )
            )
        ).all()
    )
    return season, due, [p for p in due if p not in done]


async def read_check(session: AsyncSession, principal: Principal, check_id: int) -> SafetyCheck:
    check = await session.get(SafetyCheck, check_id)
    if check is None or not cases.can_read(principal, check.community_id, check.street_id):
        raise _check_not_found(check_id)
    await audit.record_read(session, principal, "read", "safety_check", [check.id], CHECK_FIELDS)
    return check


# ---------------------------------------------------------------- grading


@dataclass(frozen=True)
class ChildFacts:
    id: int
    community_id: int
    street_id: int
    risk_level: str
    next_visit_due: dt.date
    status: str


def facts_of(child: Child) -> ChildFacts:
    return ChildFacts(
        child.id, child.community_id, child.street_id, child.risk_level, child.next_visit_due, child.status
    )


async def missed_now(session: AsyncSession, child_ids: Sequence[int], today: dt.date) -> dict[int, dict[str, int]]:
    """Missed items of this season's current checks, by child and prevention."""
    out: dict[int, dict[str, int]] = {}
    if not child_ids:
        return out
    rows = await session.execute(
        select(SafetyCheck.child_id, SafetyCheck.prevention, SafetyCheck.missed).where(
            SafetyCheck.child_id.in_(child_ids),
            SafetyCheck.season == rules.season_of(today),
            SafetyCheck.current_key.is_not(None),
            SafetyCheck.missed > 0,
        )
    )
    for cid, prevention, missed in rows.all():
        out.setdefault(int(cid), {})[prevention] = int(missed)
    return out


def assess(facts: ChildFacts, missed: dict[str, int], today: dt.date) -> tuple[str | None, int, list[rules.Reason]]:
    if facts.status != "active":
        return None, 0, []
    found = rules.reasons(
        risk_level=facts.risk_level, next_visit_due=facts.next_visit_due, day=today, missed=sorted(missed.items())
    )
    points = rules.total(found)
    return rules.grade_of(points), points, found


def _event(w: SafetyWarning, kind: str, now: dt.datetime, **kw: Any) -> SafetyWarningEvent:
    return SafetyWarningEvent(
        warning_id=w.id, child_id=w.child_id, kind=kind, grade=w.grade, points=w.points, created_at=now, **kw
    )


async def _tell_directors(session: AsyncSession, w: SafetyWarning, event: SafetyWarningEvent) -> None:
    if w.grade not in NOTIFY_GRADES:
        return
    hours = ACK_HOURS[w.grade]
    limit = f"{hours} 小时" if hours <= 72 else f"{hours // 24} 天"
    await notifications.notify(
        session,
        await notifications.community_directors(session, w.community_id),
        key=f"safety_warning:{event.id}",
        kind="safety_warning",
        title=f"{GRADES[w.grade]}：儿童档案 #{w.child_id}",
        body=f"本社区一名儿童触发{GRADES[w.grade]}（{w.points} 分），请在 {limit}内核实处置并记录措施。",
        entity="safety_warning",
        entity_id=w.id,
        data={"urgent": w.grade in URGENT_GRADES, "grade": w.grade, "child_id": w.child_id},
    )


async def open_warning(session: AsyncSession, child_id: int) -> SafetyWarning | None:
    found: SafetyWarning | None = await session.scalar(
        select(SafetyWarning).where(SafetyWarning.open_child_id == child_id)
    )
    return found


async def grade_child(
    session: AsyncSession,
    facts: ChildFacts,
    now: dt.datetime,
    today: dt.date,
    *,
    missed: dict[str, int] | None = None,
    current: SafetyWarning | bool | None = False,
) -> bool:
    """Bring the child's warning in line with the rule; True when anything changed (a history row was added)."""
    if missed is None:
        missed = (await missed_now(session, [facts.id], today)).get(facts.id, {})
    w = await open_warning(session, facts.id) if current is False else current
    assert w is None or isinstance(w, SafetyWarning)
    grade, points, found = assess(facts, missed, today)
    reasons = [r.as_dict() for r in found]
    if grade is None:
        if w is None:
            return False
        w.status, w.open_child_id, w.resolved_at = "resolved", None, now
        w.points, w.reasons = 0, []
        session.add(_event(w, "resolved", now))
        await session.flush()
        return True
    if w is None:
        w = SafetyWarning(
            child_id=facts.id,
            open_child_id=facts.id,
            community_id=facts.community_id,
            street_id=facts.street_id,
            grade=grade,
            points=points,
            reasons=reasons,
            status="open",
            ack_due_at=now + dt.timedelta(hours=ACK_HOURS[grade]),
            graded_at=now,
            created_at=now,
        )
        try:
            async with session.begin_nested():
                session.add(w)
        except IntegrityError:
            return False  # another writer raised it at the same moment: theirs stands
        raised = _event(w, "raised", now)
        session.add(raised)
        await session.flush()
        await _tell_directors(session, w, raised)
        return True
    changed = False
    if (w.community_id, w.street_id) != (facts.community_id, facts.street_id):
        w.community_id, w.street_id = facts.community_id, facts.street_id  # the file moved community
        changed = True
    if w.points != points or w.reasons != reasons:
        w.points, w.reasons = points, reasons
    if w.grade == grade:
        if changed or w in session.dirty:
            await session.flush()
        return False
    before = w.grade
    w.grade, w.graded_at = grade, now
    if GRADE_RANK[grade] > GRADE_RANK[before]:
        # Worse than what was acknowledged: the director acts again, within the new grade's time.
        w.status, w.acknowledged_at, w.acknowledged_by, w.escalated_at = "open", None, None, None
        w.ack_due_at = now + dt.timedelta(hours=ACK_HOURS[grade])
    event = _event(w, "regraded", now, from_grade=before)
    session.add(event)
    await session.flush()
    if GRADE_RANK[grade] > GRADE_RANK[before]:
        await _tell_directors(session, w, event)
    return True


async def escalate_due(session: AsyncSession, now: dt.datetime) -> int:
    """Warnings not acknowledged by their deadline go up to the street's supervisors (once per raise)."""
    late = (
        await session.scalars(
            select(SafetyWarning)
            .where(
                SafetyWarning.open_child_id.is_not(None),
                SafetyWarning.status == "open",
                SafetyWarning.escalated_at.is_(None),
                SafetyWarning.ack_due_at < now,
            )
            .order_by(SafetyWarning.id)
            .with_for_update()
        )
    ).all()
    for w in late:
        w.escalated_at = now
        event = _event(w, "escalated", now)
        session.add(event)
        await session.flush()
        await notifications.notify(
            session,
            await notifications.street_supervisors(session, w.street_id),
            key=f"safety_warning_escalated:{event.id}",
            kind="safety_warning_escalated",
            title=f"{GRADES[w.grade]}超时未处置：儿童档案 #{w.child_id}",
            body=f"一名儿童的{GRADES[w.grade]}已过处置时限，儿童主任尚未处置，请督促并记录督导意见。",
            entity="safety_warning",
            entity_id=w.id,
            data={"urgent": w.grade in URGENT_ESCALATION_GRADES, "grade": w.grade, "child_id": w.child_id},
        )
    return len(late)


# ---------------------------------------------------------------- reading and acting on warnings


def _warning_not_found(warning_id: int) -> NotFound:
    return NotFound(f"安全预警 {warning_id} 不存在 (safety warning not found)")


def allowed_actions(principal: Principal, w: SafetyWarning) -> list[str]:
    if w.status == "resolved":
        return []
    if principal.role == "child_director" and principal.community_id == w.community_id:
        return ["acknowledge", "action"] if w.status == "open" else ["action"]
    if w.escalated_at is not None and (
        (principal.role == "child_supervisor" and principal.street_id == w.street_id)
        or principal.role == "district_admin"
    ):
        return ["note"]
    return []


def _status_clause(status: str) -> Any:
    if status == "active":
        return SafetyWarning.open_child_id.is_not(None)
    if status == "escalated":
        return SafetyWarning.open_child_id.is_not(None) & SafetyWarning.escalated_at.is_not(None)
    return SafetyWarning.status == status


async def list_warnings(
    session: AsyncSession,
    principal: Principal,
    *,
    grade: str | None,
    status: str | None,
    street_id: int | None,
    community_id: int | None,
    child_id: int | None = None,
    limit: int,
    offset: int,
) -> tuple[list[tuple[SafetyWarning, str]], int, SafetyGradeCounts]:
    """The warnings in the caller's scope: escalated ones first, then by grade and deadline; with the counts by
    grade under the same filters (but the grade's)."""
    stmt = select(SafetyWarning)
    clause = cases.scope_clause(principal, SafetyWarning.community_id, SafetyWarning.street_id)
    if clause is not None:
        stmt = stmt.where(clause)
    if status:
        stmt = stmt.where(_status_clause(status))
    if street_id:
        stmt = stmt.where(SafetyWarning.street_id == street_id)
    if community_id:
        stmt = stmt.where(SafetyWarning.community_id == community_id)
    if child_id:
        stmt = stmt.where(SafetyWarning.child_id == child_id)
    filtered = stmt.subquery()
    by_grade = {
        str(g): int(n)
        for g, n in (await session.execute(select(filtered.c.grade, func.count()).group_by(filtered.c.grade))).all()
    }
    counts = SafetyGradeCounts(**{g: int(by_grade.get(g, 0)) for g in GRADES})
    if grade:
        stmt = stmt.where(SafetyWarning.grade == grade)
    total = int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rank = case(*[(SafetyWarning.grade == g, -r) for g, r in GRADE_RANK.items()], else_=0)
    escalated_first = case(
        (SafetyWarning.escalated_at.is_not(None) & SafetyWarning.open_child_id.is_not(None), 0), else_=1
    )
    resolved_last = case((SafetyWarning.open_child_id.is_(None), 1), else_=0)
    order = [resolved_last, rank, SafetyWarning.ack_due_at, SafetyWarning.id]
    if principal.role in {"child_supervisor", "district_admin"}:
        order.insert(1, escalated_first)
    found = list((await session.scalars(stmt.order_by(*order).limit(limit).offset(offset))).all())
    names: dict[int, str] = {}
    if found:
        rows = await session.execute(select(Child.id, Child.name).where(Child.id.in_({w.child_id for w in found})))
        names = {int(i): n for i, n in rows.all()}
    await audit.record_read(
        session, principal, "list", "child", sorted({w.child_id for w in found}), ["name", "safety_warning"]
    )
    return [(w, names.get(w.child_id, "")) for w in found], total, counts


async def visible_warning(session: AsyncSession, principal: Principal, warning_id: int) -> SafetyWarning:
    w = await session.get(SafetyWarning, warning_id)
    if w is None or not cases.can_read(principal, w.community_id, w.street_id):
        raise _warning_not_found(warning_id)
    return w


async def history_of(session: AsyncSession, warning_ids: Sequence[int]) -> dict[int, list[SafetyWarningEvent]]:
    out: dict[int, list[SafetyWarningEvent]] = {}
    if not warning_ids:
        return out
    rows = await session.scalars(
        select(SafetyWarningEvent)
        .where(SafetyWarningEvent.warning_id.in_(warning_ids))
        .order_by(SafetyWarningEvent.created_at, SafetyWarningEvent.id)
    )
    for e in rows.all():
        out.setdefault(e.warning_id, []).append(e)
    return out


async def present(
    session: AsyncSession,
    principal: Principal,
    rows: Sequence[tuple[SafetyWarning, str]],
    *,
    history: bool = False,
) -> list[SafetyWarningOut]:
    now = clock.now()
    events = await history_of(session, [w.id for w, _ in rows]) if history else {}
    names = await _names(session, {e.actor_id for evs in events.values() for e in evs})
    return [
        SafetyWarningOut(
            id=w.id,
            child_id=w.child_id,
            child_name=name,
            community_id=w.community_id,
            street_id=w.street_id,
            grade=w.grade,
            grade_label=GRADES.get(w.grade, w.grade),
            points=w.points,
            reasons=[
                SafetyReasonOut(code=str(r["code"]), label=str(r["label"]), points=int(r["points"])) for r in w.reasons
            ],
            status=w.status,
            status_label=WARNING_STATUSES.get(w.status, w.status),
            ack_due_at=w.ack_due_at,
            ack_overdue=w.status == "open" and w.ack_due_at < now,
            acknowledged_at=w.acknowledged_at,
            escalated=w.escalated_at is not None and w.status != "resolved",
            escalated_at=w.escalated_at,
            resolved_at=w.resolved_at,
            graded_at=w.graded_at,
            created_at=w.created_at,
            allowed_actions=allowed_actions(principal, w),
            history=[
                SafetyWarningEventOut(
                    id=e.id,
                    kind=e.kind,
                    kind_label=EVENT_KINDS.get(e.kind, e.kind),
                    grade=e.grade,
                    grade_label=GRADES.get(e.grade, e.grade),
                    from_grade=e.from_grade,
                    points=e.points,
                    note=e.note,
                    actor_id=e.actor_id,
                    actor_name=names.get(e.actor_id or 0, ""),
                    created_at=e.created_at,
                )
                for e in events.get(w.id, [])
            ]
            if history
            else None,
        )
        for w, name in rows
    ]


async def read_warning(session: AsyncSession, principal: Principal, warning_id: int) -> SafetyWarningOut:
    w = await visible_warning(session, principal, warning_id)
    child = await session.get(Child, w.child_id)
    await audit.record_read(session, principal, "read", "safety_warning", [w.id], WARNING_FIELDS)
    return (await present(session, principal, [(w, child.name if child else "")], history=True))[0]


def _refuse(principal: Principal, w: SafetyWarning, action: str) -> None:
    if w.status == "resolved":
        raise Conflict("该预警已解除，无需再处置 (the warning is resolved)", code="warning_resolved")
    if action not in allowed_actions(principal, w):
        if action == "acknowledge" and w.status == "acknowledged" and principal.community_id == w.community_id:
            raise Conflict("该预警已处置，可继续记录处置措施 (already acknowledged)", code="warning_acknowledged")
        if action == "note" and principal.role in {"child_supervisor", "district_admin"}:
            raise Conflict(
                "该预警尚未升级，督导意见在升级后填写 (notes are added to escalated warnings)",
                code="warning_not_escalated",
            )
        raise Forbidden("只有本社区儿童主任可处置预警 (only the community's child director acts on the warning)")


async def acknowledge(session: AsyncSession, principal: Principal, warning_id: int, data: SafetyAcknowledgeIn) -> None:
    w = await visible_warning(session, principal, warning_id)
    _refuse(principal, w, "acknowledge")
    note = data.note.strip()
    if not note:
        raise Invalid.field("note", "请写明已采取的措施 (say what was done)")
    now = clock.now()
    w.status, w.acknowledged_at, w.acknowledged_by = "acknowledged", now, principal.account_id
    session.add(_event(w, "acknowledged", now, note=note, actor_id=principal.account_id))
    await session.flush()
    await audit.record(
        session, principal, "acknowledge", "safety_warning", w.id, ["status", "note"], {"child_id": w.child_id}
    )


async def add_action(session: AsyncSession, principal: Principal, warning_id: int, data: SafetyActionIn) -> None:
    """A further action by the child's director, or a note by the street's supervisor or the district."""
    w = await visible_warning(session, principal, warning_id)
    kind = "action" if principal.role == "child_director" else "note"
    _refuse(principal, w, kind)
    note = data.note.strip()
    if not note:
        raise Invalid.field("note", "请填写内容 (note required)")
    session.add(_event(w, kind, clock.now(), note=note, actor_id=principal.account_id))
    await session.flush()
    await audit.record(session, principal, kind, "safety_warning", w.id, ["note"], {"child_id": w.child_id})
