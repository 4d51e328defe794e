"""The escalation ladder: anything overdue in the closed loop climbs director → supervisor → district.

Step ``level`` of a ladder is reached ``level`` deadline-lengths after its clock started (``reached``). Each step
is one ``Escalation`` row (unique per entity, kind and level) and one notification per recipient, so a job run
twice, or two workers at once, tell nobody twice.

What the street's supervisor (of the child's street, for the steps that reached them: level 2 and up) or the
district does about a step is an ``EscalationAction``: **acknowledge** it with what happens next; **remind** the one
responsible (the child's directors for a visit, the provider's staff for a referral: a notification); **reassign**
an overdue visit to another director of the street (the file has no owner but its community: a director of the
child's community is assigned the visit, one of another community receives the file through an approved transfer).
A step **resolves itself** when its cause is gone (``open_clause``): the visit recorded (the child's next visit is
due after the step's date) or the file closed, the referral answered or started, the report acknowledged or
closed; a resolved step leaves the board and takes no more actions. Anyone else is told the step does not exist."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy import ColumnElement, String, and_, cast, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from marketplace import clock
from marketplace.audit import service as audit
from marketplace.auth.models import User
from marketplace.auth.principal import Principal
from marketplace.cases import notifications, ports, transfers
from marketplace.cases.escalation_schemas import (
    AcknowledgeIn,
    DirectorOption,
    EscalationActionOut,
    EscalationOut,
    ReassignIn,
    RemindIn,
)
from marketplace.cases.models import Child, Escalation, EscalationAction, MandatoryReport
from marketplace.cases.taxonomy import ESCALATION_KINDS, ESCALATION_LEVELS
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.geography.models import Community

TOP: Final = 3  # 1 the child's director, 2 the street's supervisor, 3 the district
# A child's overdue visit is one ladder per due date: ``Escalation.entity`` is this prefix and the date.
VISIT_ENTITY_PREFIX: Final = "visit_due:"
ACTION_LABELS: Final = {"acknowledge": "已阅并说明处理", "remind": "已督促", "reassign": "已改派"}
# Who may be reminded, by the step's kind: the directors of an overdue visit, the provider of a late referral.
REMINDABLE: Final = frozenset({"visit", "accept", "first_contact"})
# A reminder repeated within this time by the same person is refused (a double tap, not a new reminder).
REMIND_AGAIN_AFTER: Final = dt.timedelta(minutes=10)


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


# ---------------------------------------------------------------- acting on a step


def _not_found(escalation_id: int) -> NotFound:
    return NotFound(f"升级事项 {escalation_id} 不存在 (escalation not found)")


def open_clause() -> ColumnElement[bool]:
    """The SQL condition that an ``Escalation`` step's cause is still there (see the module's docstring)."""
    child = aliased(Child)
    visit = and_(
        Escalation.entity.like(f"{VISIT_ENTITY_PREFIX}%"),
        select(child.id)
        .where(
            child.id == Escalation.entity_id,
            child.status == "active",
            # ISO dates compare as text: the child's next visit is still due on or before the step's date.
            cast(child.next_visit_due, String(10)) <= func.substr(Escalation.entity, len(VISIT_ENTITY_PREFIX) + 1),
        )
        .correlate(Escalation)
        .exists(),
    )
    report = and_(
        Escalation.entity == "mandatory_report",
        select(MandatoryReport.id)
        .where(
            MandatoryReport.id == Escalation.entity_id,
            MandatoryReport.status != "closed",
            or_(
                and_(Escalation.level <= 2, MandatoryReport.supervisor_ack_at.is_(None)),
                and_(Escalation.level >= 3, MandatoryReport.district_ack_at.is_(None)),
            ),
        )
        .correlate(Escalation)
        .exists(),
    )
    referral = and_(Escalation.entity == "referral", ports.open_referral_steps())
    return or_(visit, report, referral)


def _scope(principal: Principal) -> ColumnElement[bool] | None:
    """The steps the caller may act on (a query joining the step's ``Child``); None for the district. Raises
    Forbidden for the roles that act on none."""
    if principal.role == "district_admin":
        return None
    if principal.role == "child_supervisor" and principal.street_id is not None:
        return and_(Child.street_id == principal.street_id, Escalation.level >= 2)
    raise Forbidden("只有街道督导员和区民政局可处理升级事项 (only supervisors and the district act on escalations)")


async def list_escalations(
    session: AsyncSession, principal: Principal, *, open_only: bool, kind: str | None, limit: int, offset: int
) -> tuple[list[tuple[Escalation, Child]], int]:
    """The steps in the caller's scope, newest first; ``open_only`` leaves out the resolved ones."""
    stmt = select(Escalation, Child).join(Child, Child.id == Escalation.child_id)
    clause = _scope(principal)
    if clause is not None:
        stmt = stmt.where(clause)
    if open_only:
        stmt = stmt.where(open_clause())
    if kind:
        stmt = stmt.where(Escalation.kind == kind)
    total = int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = await session.execute(
        stmt.order_by(Escalation.created_at.desc(), Escalation.id.desc()).limit(limit).offset(offset)
    )
    return [(e, c) for e, c in rows.all()], total


async def visible(session: AsyncSession, principal: Principal, escalation_id: int) -> tuple[Escalation, Child]:
    """The step and its child, if the caller may act on it; anyone else is told it does not exist."""
    try:
        clause = _scope(principal)
    except Forbidden:
        raise _not_found(escalation_id) from None
    stmt = select(Escalation, Child).join(Child, Child.id == Escalation.child_id).where(Escalation.id == escalation_id)
    if clause is not None:
        stmt = stmt.where(clause)
    row = (await session.execute(stmt)).one_or_none()
    if row is None:
        raise _not_found(escalation_id)
    return row[0], row[1]


async def _open_ids(session: AsyncSession, ids: list[int]) -> set[int]:
    if not ids:
        return set()
    rows = await session.scalars(select(Escalation.id).where(Escalation.id.in_(ids), open_clause()))
    return set(rows.all())


async def _require_open(session: AsyncSession, e: Escalation) -> None:
    if e.id not in await _open_ids(session, [e.id]):
        raise Conflict(
            "该事项已解除（走访已记录、转介已答复或报告已签收），无需再处理 (the escalation is resolved)",
            code="escalation_resolved",
        )


def allowed_actions(e: Escalation, is_open: bool) -> list[str]:
    if not is_open:
        return []
    out = ["acknowledge"]
    if e.kind in REMINDABLE:
        out.append("remind")
    if e.kind == "visit":
        out.append("reassign")
    return out


def visit_date(e: Escalation) -> dt.date | None:
    """The due date of a visit step (``entity`` names it), None for other steps."""
    if not e.entity.startswith(VISIT_ENTITY_PREFIX):
        return None
    try:
        return dt.date.fromisoformat(e.entity.removeprefix(VISIT_ENTITY_PREFIX))
    except ValueError:
        return None


async def actions_of(session: AsyncSession, escalation_ids: list[int]) -> dict[int, list[EscalationAction]]:
    out: dict[int, list[EscalationAction]] = {}
    if not escalation_ids:
        return out
    rows = await session.scalars(
        select(EscalationAction)
        .where(EscalationAction.escalation_id.in_(escalation_ids))
        .order_by(EscalationAction.created_at, EscalationAction.id)
    )
    for a in rows.all():
        out.setdefault(a.escalation_id, []).append(a)
    return out


async def present(
    session: AsyncSession, principal: Principal, rows: Sequence[tuple[Escalation, Child]]
) -> list[EscalationOut]:
    """The steps with their state, their actions and what the caller may still do; naming the children is audited."""
    if not rows:
        return []
    ids = [e.id for e, _ in rows]
    still_open = await _open_ids(session, ids)
    actions = await actions_of(session, ids)
    people = {a.actor_id for acts in actions.values() for a in acts} | {
        a.target_id for acts in actions.values() for a in acts
    }
    people.discard(None)
    names: dict[int, str] = {}
    if people:
        names = dict((await session.execute(select(User.id, User.display_name).where(User.id.in_(people)))).all())
    await audit.record_read(session, principal, "list_escalations", "child", sorted({c.id for _, c in rows}), ["name"])
    return [
        EscalationOut(
            id=e.id,
            entity=e.entity,
            entity_id=e.entity_id,
            kind=e.kind,
            kind_label=ESCALATION_KINDS.get(e.kind, e.kind),
            level=e.level,
            level_label=ESCALATION_LEVELS.get(e.level, ""),
            due_at=e.due_at,
            created_at=e.created_at,
            child_id=c.id,
            child_name=c.name,
            open=e.id in still_open,
            allowed_actions=allowed_actions(e, e.id in still_open),
            actions=[
                EscalationActionOut(
                    action=a.action,
                    action_label=ACTION_LABELS.get(a.action, a.action),
                    note=a.note,
                    actor_id=a.actor_id,
                    actor_name=names.get(a.actor_id, "") if a.actor_id else "",
                    target_id=a.target_id,
                    target_name=names.get(a.target_id) if a.target_id else None,
                    created_at=a.created_at,
                )
                for a in actions.get(e.id, [])
            ],
        )
        for e, c in rows
    ]


async def _record(
    session: AsyncSession,
    principal: Principal,
    e: Escalation,
    child: Child,
    action: str,
    note: str,
    *,
    target_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> EscalationAction:
    row = EscalationAction(
        escalation_id=e.id,
        action=action,
        note=note,
        actor_id=principal.account_id,
        target_id=target_id,
        detail=detail or {},
        created_at=clock.now(),
    )
    session.add(row)
    await session.flush()
    await audit.record(
        session,
        principal,
        f"escalation_{action}",
        "child",
        child.id,
        [],
        {"escalation_id": e.id, "action_id": row.id, "kind": e.kind, "level": e.level, **(detail or {})},
    )
    return row


async def acknowledge(
    session: AsyncSession, principal: Principal, escalation_id: int, data: AcknowledgeIn
) -> EscalationAction:
    """The supervisor has seen the step and says what happens next (shown on the step with who and when)."""
    e, child = await visible(session, principal, escalation_id)
    await _require_open(session, e)
    note = data.note.strip()
    if not note:
        raise Invalid.field("note", "请写明后续安排 (say what happens next)")
    return await _record(session, principal, e, child, "acknowledge", note)


async def _last_assignee(session: AsyncSession, e: Escalation, child: Child) -> int | None:
    """The director the visit was last reassigned to, while they are still an active director of its community."""
    target = await session.scalar(
        select(EscalationAction.target_id)
        .where(EscalationAction.escalation_id == e.id, EscalationAction.action == "reassign")
        .order_by(EscalationAction.id.desc())
        .limit(1)
    )
    if target is None:
        return None
    return target if target in await notifications.community_directors(session, child.community_id) else None


async def remind(session: AsyncSession, principal: Principal, escalation_id: int, data: RemindIn) -> EscalationAction:
    """Remind the one responsible: the director the visit was reassigned to, else the child's community directors;
    the provider's staff for a referral. One notification each, seen in their notifications."""
    e, child = await visible(session, principal, escalation_id)
    await _require_open(session, e)
    if e.kind not in REMINDABLE:
        raise Conflict(
            "强制报告由督导员直接签收，无需督促 (a report is acknowledged, not reminded)", code="not_remindable"
        )
    recent = await session.scalar(
        select(EscalationAction.id).where(
            EscalationAction.escalation_id == e.id,
            EscalationAction.action == "remind",
            EscalationAction.actor_id == principal.account_id,
            EscalationAction.created_at > clock.now() - REMIND_AGAIN_AFTER,
        )
    )
    if recent is not None:
        raise Conflict("刚刚已督促过，请稍后再试 (reminded a moment ago)", code="reminded_recently")
    note = data.note.strip()
    label = ESCALATION_KINDS.get(e.kind, e.kind)
    by = principal.display_name or "督导员"
    if e.kind == "visit":
        assignee = await _last_assignee(session, e, child)
        people = [assignee] if assignee else await notifications.community_directors(session, child.community_id)
        due = visit_date(e)
        title = f"督办提醒：{child.name}走访逾期"
        body = f"{child.name}应于 {due.isoformat() if due else ''} 走访，现已逾期，请尽快走访并记录。"
        entity, entity_id = "child", child.id
        detail: dict[str, Any] = {"recipients": people}
    else:
        organization = await ports.referral_provider(session, e.entity_id)
        people = await notifications.organization_staff(session, organization) if organization else []
        title = f"督办提醒：转介 #{e.entity_id}{label}"
        body = f"转介 #{e.entity_id}{label}，街道督导员请贵机构尽快处理。"
        entity, entity_id = "referral", e.entity_id
        detail = {"recipients": people, "organization_id": organization}
    if not people:
        raise Conflict("没有可督促的人员（未配备在职人员）(no one to remind)", code="no_recipient")
    if note:
        body += f"\n{by}：{note}"
    row = await _record(session, principal, e, child, "remind", note, detail=detail)
    await notifications.notify(
        session,
        people,
        key=f"escalation-remind:{row.id}",
        kind="escalation_remind",
        title=title,
        body=body,
        entity=entity,
        entity_id=entity_id,
        data={"escalation_id": e.id, "kind": e.kind, "level": e.level, "note": note},
    )
    return row


async def street_directors(session: AsyncSession, street_id: int) -> list[DirectorOption]:
    """The active child directors of a street, by community: whom an overdue visit may be reassigned to."""
    rows = await session.execute(
        select(User.id, User.display_name, Community.id, Community.name)
        .join(Community, Community.id == User.community_id)
        .where(User.role == "child_director", User.is_active.is_(True), Community.street_id == street_id)
        .order_by(Community.id, User.id)
    )
    return [DirectorOption(id=uid, name=name, community_id=cid, community_name=cname) for uid, name, cid, cname in rows]


async def directors_for(session: AsyncSession, principal: Principal, escalation_id: int) -> list[DirectorOption]:
    _, child = await visible(session, principal, escalation_id)
    return await street_directors(session, child.street_id)


async def reassign(
    session: AsyncSession, principal: Principal, escalation_id: int, data: ReassignIn
) -> EscalationAction:
    """Give the overdue visit to another director of the child's street (see the module's docstring); they are told,
    and the child's audit trail shows it (and the transfer, when the file moved)."""
    e, child = await visible(session, principal, escalation_id)
    await _require_open(session, e)
    if e.kind != "visit":
        raise Conflict("只有走访逾期可以改派 (only an overdue visit can be reassigned)", code="not_reassignable")
    note = data.note.strip()
    if not note:
        raise Invalid.field("note", "请写明改派原因 (say why)")
    options = {d.id: d for d in await street_directors(session, child.street_id)}
    target = options.get(data.director_id)
    if target is None:
        raise Invalid.field(
            "director_id", "请选择本街道在职的儿童主任 (choose an active director of the child's street)"
        )
    detail: dict[str, Any] = {"from_community_id": child.community_id, "to_community_id": target.community_id}
    moved = target.community_id != child.community_id
    if moved:
        t = await transfers.reassign(session, principal, child, target.community_id, f"督导员改派走访：{note}")
        detail["transfer_id"] = t.id
    row = await _record(session, principal, e, child, "reassign", note, target_id=target.id, detail=detail)
    due = visit_date(e)
    by = principal.display_name or "督导员"
    await notifications.notify(
        session,
        [target.id],
        key=f"escalation-reassign:{row.id}",
        kind="escalation_reassign",
        title=f"改派走访：{child.name}",
        body=(
            f"{child.name}应于 {due.isoformat() if due else ''} 的走访已逾期，{by}改派由您走访"
            f"{'（档案已转入' + target.community_name + '）' if moved else ''}。\n{by}：{note}"
        ),
        entity="child",
        entity_id=child.id,
        data={"escalation_id": e.id, "transfer_id": detail.get("transfer_id")},
    )
    return row
