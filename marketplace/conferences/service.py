"""Case conferences (个案会商): convened for a child, held with minutes and decisions, the decisions followed to done.

**Who.** The child's director (own community), the street's supervisor (own street) or the district convenes,
records the conference as held, adds, revises and cancels decisions and cancels the conference. The same roles, and
the auditor, read it whole ("full"). A participant account or the account answering for a decision outside that
scope (an organization's staff serving the child through a referral) reads the "participant" view: the topic, the
date and place, the child's share note and their own decisions, never the minutes, the name or the other
participants. Anyone else is told the conference does not exist. A decision is marked done by the account answering
for it or by one of the managing roles.

**Invited.** Staff accounts only from the child's circle (``candidates``): the directors of the child's community,
the supervisors of its street, the district's staff, and the staff of an organization serving the child. Outside
parties are named, with their kind (``PARTY_KINDS``).

**Decisions.** An owner is an internal participant (who answers for it) or an outside party followed up by an
internal participant. Nothing is edited in place: a change of owner or due date is a ``DecisionRevision``. A held
conference closes when its last open decision is done or cancelled (a new decision opens it again).

Every read audits the child (``audit.record_read``), every change writes an audit row on the child."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.audit import service as audit
from marketplace.auth.models import User
from marketplace.auth.principal import ROLES, Principal
from marketplace.cases import notifications, ports
from marketplace.cases import service as cases
from marketplace.cases.loop import LoopEvent
from marketplace.cases.models import Child
from marketplace.conferences.models import Conference, Decision, DecisionRevision, Participant
from marketplace.conferences.schemas import (
    ConferenceCandidateOut,
    ConferenceDecisionDoneIn,
    ConferenceDecisionIn,
    ConferenceDecisionOut,
    ConferenceDecisionReviseIn,
    ConferenceDecisionRevisionOut,
    ConferenceHeldIn,
    ConferenceIn,
    ConferenceOut,
    ConferenceParticipantOut,
    ConferenceReasonIn,
)
from marketplace.conferences.taxonomy import (
    CONFERENCE_STATUSES,
    DECISION_STATUSES,
    INTERNAL,
    INTERVENTION_PARTIES,
    PARTY_KINDS,
    REMIND_DAYS,
)
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound

MANAGERS = frozenset({"child_director", "child_supervisor", "district_admin"})
FULL_FIELDS = ("name", "share_note", "conference_topic", "conference_minutes", "conference_decisions")
PARTICIPANT_FIELDS = ("share_note", "conference_topic", "own_decisions")
# A conference scheduled further back or ahead than this is a typing mistake.
SCHEDULE_WINDOW = dt.timedelta(days=366)


# ---------------------------------------------------------------- scope


def _not_found(conference_id: int) -> NotFound:
    return NotFound(f"个案会商 {conference_id} 不存在 (conference not found)")


def _decision_not_found(decision_id: int) -> NotFound:
    return NotFound(f"会商决定 {decision_id} 不存在 (decision not found)")


def may_manage(principal: Principal, community_id: int, street_id: int) -> bool:
    """Whether the caller convenes and runs conferences of a child of this community and street."""
    if principal.role == "child_director":
        return principal.community_id == community_id
    if principal.role == "child_supervisor":
        return principal.street_id == street_id
    return principal.role == "district_admin"


def _full_reader(principal: Principal, c: Conference) -> bool:
    return cases.can_read(principal, c.community_id, c.street_id)


def _mine(user_id: int) -> ColumnElement[bool]:
    """The conferences the account takes part in or answers a decision of."""
    return or_(
        exists().where(Participant.conference_id == Conference.id, Participant.user_id == user_id),
        exists().where(Decision.conference_id == Conference.id, Decision.responsible_id == user_id),
    )


def _scope(principal: Principal) -> ColumnElement[bool] | None:
    """The conferences the caller reads (whole or in part); None for the district's readers."""
    if principal.role in cases.DISTRICT_READERS:
        return None
    mine = _mine(principal.user_id) if principal.user_id else false()
    if principal.role == "child_director" and principal.community_id:
        return or_(Conference.community_id == principal.community_id, mine)
    if principal.role == "child_supervisor" and principal.street_id:
        return or_(Conference.street_id == principal.street_id, mine)
    return mine


async def _is_involved(session: AsyncSession, principal: Principal, c: Conference) -> bool:
    if not principal.user_id:
        return False
    found = await session.scalar(select(Conference.id).where(Conference.id == c.id, _mine(principal.user_id)))
    return found is not None


async def visible(session: AsyncSession, principal: Principal, conference_id: int, *, lock: bool = False) -> Conference:
    stmt = select(Conference).where(Conference.id == conference_id)
    if lock:
        stmt = stmt.with_for_update()
    c = await session.scalar(stmt)
    if c is None or not (_full_reader(principal, c) or await _is_involved(session, principal, c)):
        raise _not_found(conference_id)
    return c


async def _managed(session: AsyncSession, principal: Principal, conference_id: int) -> Conference:
    c = await visible(session, principal, conference_id, lock=True)
    if not may_manage(principal, c.community_id, c.street_id):
        raise Forbidden(
            "只有本社区儿童主任、本街道督导员或区民政局可操作个案会商 "
            "(only the child's director, the street's supervisor or the district run a conference)"
        )
    return c


# ---------------------------------------------------------------- who may be invited


async def candidates(session: AsyncSession, child: Child) -> list[User]:
    """The staff accounts of the child's circle (see the module's docstring), active, in role and id order."""
    organizations = list(await ports.serving_organizations(session, child.id))
    circle = [
        and_(User.role == "child_director", User.community_id == child.community_id),
        and_(User.role == "child_supervisor", User.street_id == child.street_id),
        User.role == "district_admin",
    ]
    if organizations:
        circle.append(and_(User.role == "org_staff", User.organization_id.in_(organizations)))
    rows = await session.scalars(select(User).where(User.is_active.is_(True), or_(*circle)).order_by(User.id))
    order = {"child_director": 0, "child_supervisor": 1, "district_admin": 2, "org_staff": 3}
    return sorted(rows.all(), key=lambda u: (order.get(u.role, 9), u.id))


async def candidates_for(session: AsyncSession, principal: Principal, child_id: int) -> list[ConferenceCandidateOut]:
    child = await cases.visible_child(session, principal, child_id)
    if not may_manage(principal, child.community_id, child.street_id):
        raise Forbidden("只有本社区儿童主任、本街道督导员或区民政局可召集个案会商 (you may not convene)")
    return [
        ConferenceCandidateOut(id=u.id, name=u.display_name, role=u.role, role_label=ROLES.get(u.role, u.role))
        for u in await candidates(session, child)
    ]


# ---------------------------------------------------------------- convening


def _check_schedule(at: dt.datetime, field: str) -> dt.datetime:
    if at.tzinfo is None:
        at = at.replace(tzinfo=clock.DISTRICT_TZ)
    try:
        at = at.astimezone(dt.UTC)
    except (OverflowError, ValueError):  # an instant at the calendar's very ends
        raise Invalid.field(field, "会商时间应在前后一年之内 (the time must be within a year of today)") from None
    if abs(at - clock.now()) > SCHEDULE_WINDOW:
        raise Invalid.field(field, "会商时间应在前后一年之内 (the time must be within a year of today)")
    return at


async def convene(session: AsyncSession, principal: Principal, child_id: int, data: ConferenceIn) -> Conference:
    child = await cases.visible_child(session, principal, child_id)
    if not may_manage(principal, child.community_id, child.street_id):
        raise Forbidden("只有本社区儿童主任、本街道督导员或区民政局可召集个案会商 (you may not convene)")
    if child.status != "active":
        raise Conflict("儿童档案已结案，不能召集会商 (the child's file is closed)", code="file_closed")
    topic = data.topic.strip()
    if not topic:
        raise Invalid.field("topic", "请填写会商议题 (the topic is required)")
    at = _check_schedule(data.scheduled_at, "scheduled_at")
    allowed = {u.id for u in await candidates(session, child)}
    invited = list(dict.fromkeys(data.participant_ids))
    strangers = [i for i in invited if i not in allowed]
    if strangers:
        raise Invalid.field(
            "participant_ids",
            "只能邀请本社区儿童主任、本街道督导员、区民政局人员和为该儿童服务的机构人员 "
            f"(accounts {strangers} may not be invited)",
        )
    if principal.user_id and principal.user_id not in invited:
        invited.insert(0, principal.user_id)  # the convener takes part
    parties = [p for p in data.parties]
    for i, p in enumerate(parties):
        if not p.name.strip() or not p.organisation.strip():
            raise Invalid.field(f"parties[{i}]", "请填写外部参会方的姓名和单位 (name and organisation are required)")
    c = Conference(
        child_id=child.id,
        community_id=child.community_id,
        street_id=child.street_id,
        topic=topic,
        scheduled_at=at,
        place=data.place.strip(),
        status="planned",
        convened_by=principal.account_id,
        created_at=clock.now(),
    )
    session.add(c)
    await session.flush()
    for uid in invited:
        session.add(Participant(conference_id=c.id, user_id=uid, kind=INTERNAL))
    for p in parties:
        session.add(
            Participant(
                conference_id=c.id,
                kind=p.kind,
                name=p.name.strip(),
                organisation=p.organisation.strip(),
                contact=p.contact.strip(),
            )
        )
    await session.flush()
    await audit.record(
        session,
        principal,
        "conference_convene",
        "child",
        child.id,
        ["conference_topic"],
        {"conference_id": c.id, "participants": invited, "parties": len(parties)},
    )
    local = at.astimezone(clock.DISTRICT_TZ)
    await notifications.notify(
        session,
        [u for u in invited if u != principal.user_id],
        key=f"conference-convened:{c.id}",
        kind="conference_convened",
        title="个案会商通知",
        body=f"您被邀请参加个案会商：{local:%Y-%m-%d %H:%M}{'，' + c.place if c.place else ''}。",
        entity="conference",
        entity_id=c.id,
        data={"conference_id": c.id},
    )
    return c


# ---------------------------------------------------------------- decisions


async def _participants(session: AsyncSession, conference_id: int) -> list[Participant]:
    rows = await session.scalars(
        select(Participant).where(Participant.conference_id == conference_id).order_by(Participant.id)
    )
    return list(rows.all())


def _owner(
    people: Sequence[Participant],
    owner_user_id: int | None,
    owner_party_id: int | None,
    follow_up_by: int | None,
) -> tuple[int, int | None, int | None]:
    """(responsible account, owner account, owner party) of a decision; Invalid when they are not participants."""
    internal = {p.user_id for p in people if p.user_id is not None}
    parties = {p.id for p in people if p.user_id is None}
    if (owner_user_id is None) == (owner_party_id is None):
        raise Invalid.field("owner", "请指定一名负责人：内部参会人员或外部参会方 (choose one owner)")
    if owner_user_id is not None:
        if owner_user_id not in internal:
            raise Invalid.field("owner_user_id", "负责人须是本次会商的内部参会人员 (the owner must be a participant)")
        return owner_user_id, owner_user_id, None
    if owner_party_id not in parties:
        raise Invalid.field("owner_party_id", "负责方须是本次会商的外部参会方 (the party must be a participant)")
    if follow_up_by is None or follow_up_by not in internal:
        raise Invalid.field(
            "follow_up_by",
            "外部参会方负责的决定须指定一名内部参会人员跟进 (choose an internal participant to follow up)",
        )
    return follow_up_by, None, owner_party_id


def _check_due(due: dt.date, field: str = "due_on") -> None:
    today = clock.today()
    if due < today:
        raise Invalid.field(field, "完成期限不能早于今天 (the due date is in the past)")
    if due > today + SCHEDULE_WINDOW:
        raise Invalid.field(field, "完成期限应在一年之内 (the due date must be within a year)")


async def _add_decisions(
    session: AsyncSession, principal: Principal, c: Conference, data: Sequence[ConferenceDecisionIn], field: str
) -> list[Decision]:
    people = await _participants(session, c.id)
    made: list[Decision] = []
    for i, d in enumerate(data):
        text = d.text.strip()
        where = f"{field}[{i}]" if field else ""
        if not text:
            raise Invalid.field(
                f"{where}.text" if where else "text", "请填写决定内容 (the decision's text is required)"
            )
        try:
            responsible, owner_user, owner_party = _owner(people, d.owner_user_id, d.owner_party_id, d.follow_up_by)
            _check_due(d.due_on)
        except Invalid as exc:
            if not where:
                raise
            sub = exc.errors[0]["field"] if exc.errors else "owner"
            raise Invalid.field(f"{where}.{sub}", f"决定 {i + 1}：{exc.detail}") from None
        row = Decision(
            conference_id=c.id,
            child_id=c.child_id,
            text=text,
            owner_user_id=owner_user,
            owner_party_id=owner_party,
            responsible_id=responsible,
            due_on=d.due_on,
            status="open",
            created_by=principal.account_id,
            created_at=clock.now(),
        )
        session.add(row)
        made.append(row)
    await session.flush()
    for row in made:
        await notifications.notify(
            session,
            [row.responsible_id],
            key=f"conference-decision-assigned:{row.id}:{row.responsible_id}",
            kind="conference_decision_assigned",
            title="会商决定交办",
            body=f"个案会商交办的一项决定由您负责跟进，完成期限 {row.due_on.isoformat()}。",
            entity="conference",
            entity_id=c.id,
            data={"conference_id": c.id, "decision_id": row.id, "due_on": row.due_on.isoformat()},
        )
    if made and c.status == "closed":
        c.status, c.closed_at = "held", None
    return made


async def hold(session: AsyncSession, principal: Principal, conference_id: int, data: ConferenceHeldIn) -> Conference:
    c = await _managed(session, principal, conference_id)
    if c.status != "planned":
        raise Conflict(
            f"会商{CONFERENCE_STATUSES.get(c.status, c.status)}，不能再记录召开 (the conference is {c.status})",
            code="conference_not_planned",
        )
    minutes = data.minutes.strip()
    if not minutes:
        raise Invalid.field("minutes", "请填写会商纪要 (the minutes are required)")
    held_at = _check_schedule(data.held_at, "held_at") if data.held_at else clock.now()
    if held_at > clock.now() + dt.timedelta(minutes=5):
        raise Invalid.field("held_at", "召开时间不能晚于现在 (the conference cannot be held in the future)")
    people = {p.id: p for p in await _participants(session, c.id)}
    attended: dict[int, bool] = {}
    for a in data.attendance:
        if a.participant_id not in people:
            raise Invalid.field("attendance", f"参会人 {a.participant_id} 不属于本次会商 (not a participant)")
        attended[a.participant_id] = a.attended
    for pid, p in people.items():
        p.attended = attended.get(pid, False)
    c.minutes, c.held_at, c.status, c.recorded_by = minutes, held_at, "held", principal.account_id
    await session.flush()
    made = await _add_decisions(session, principal, c, data.decisions, "decisions")
    await audit.record(
        session,
        principal,
        "conference_hold",
        "child",
        c.child_id,
        ["conference_minutes", "conference_decisions"],
        {"conference_id": c.id, "decisions": [d.id for d in made]},
    )
    return c


async def add_decision(
    session: AsyncSession, principal: Principal, conference_id: int, data: ConferenceDecisionIn
) -> Decision:
    c = await _managed(session, principal, conference_id)
    if c.status not in ("held", "closed"):
        raise Conflict("会商召开后才能记录决定 (decisions are made at a held conference)", code="conference_not_held")
    (row,) = await _add_decisions(session, principal, c, [data], "")
    await audit.record(
        session, principal, "conference_decide", "child", c.child_id, ["conference_decisions"],
        {"conference_id": c.id, "decision_id": row.id},
    )  # fmt: skip
    return row


async def cancel(
    session: AsyncSession, principal: Principal, conference_id: int, data: ConferenceReasonIn
) -> Conference:
    c = await _managed(session, principal, conference_id)
    if c.status != "planned":
        raise Conflict(
            "只有待召开的会商可以取消 (only a planned conference can be cancelled)", code="conference_not_planned"
        )
    reason = data.reason.strip()
    if not reason:
        raise Invalid.field("reason", "请写明取消原因 (the reason is required)")
    c.status, c.cancel_reason, c.cancelled_at, c.cancelled_by = "cancelled", reason, clock.now(), principal.account_id
    await session.flush()
    await audit.record(session, principal, "conference_cancel", "child", c.child_id, [], {"conference_id": c.id})
    return c


async def _decision(session: AsyncSession, principal: Principal, decision_id: int) -> tuple[Decision, Conference]:
    d = await session.scalar(select(Decision).where(Decision.id == decision_id).with_for_update())
    if d is None:
        raise _decision_not_found(decision_id)
    c = await session.get(Conference, d.conference_id)
    assert c is not None
    if not (_full_reader(principal, c) or (principal.user_id and d.responsible_id == principal.user_id)):
        raise _decision_not_found(decision_id)
    return d, c


async def decision_conference(session: AsyncSession, principal: Principal, decision_id: int) -> int:
    """The conference of a decision the caller may see (its managers, readers and the one answering for it)."""
    row = (
        await session.execute(
            select(Decision.responsible_id, Conference).join(Conference, Conference.id == Decision.conference_id)
            .where(Decision.id == decision_id)
        )
    ).one_or_none()  # fmt: skip
    if row is None or not (_full_reader(principal, row[1]) or (principal.user_id and row[0] == principal.user_id)):
        raise _decision_not_found(decision_id)
    return int(row[1].id)


def _require_open(d: Decision) -> None:
    if d.status != "open":
        raise Conflict(
            f"该决定{DECISION_STATUSES.get(d.status, d.status)}，不能再更改 (the decision is {d.status})",
            code="decision_settled",
        )


async def _maybe_close(session: AsyncSession, c: Conference) -> None:
    if c.status != "held":
        return
    still = await session.scalar(
        select(func.count()).select_from(Decision).where(Decision.conference_id == c.id, Decision.status == "open")
    )
    if not still:
        c.status, c.closed_at = "closed", clock.now()


async def mark_done(
    session: AsyncSession, principal: Principal, decision_id: int, data: ConferenceDecisionDoneIn
) -> Decision:
    d, c = await _decision(session, principal, decision_id)
    if d.responsible_id != principal.user_id and not may_manage(principal, c.community_id, c.street_id):
        raise Forbidden("只有决定的负责人或本会商的召集方可标记落实 (only the owner may mark it done)")
    _require_open(d)
    note = data.note.strip()
    if not note:
        raise Invalid.field("note", "请写明落实情况 (say what was done)")
    d.status, d.done_note, d.done_at, d.done_by = "done", note, clock.now(), principal.account_id
    await session.flush()
    await _maybe_close(session, c)
    await audit.record(
        session, principal, "conference_decision_done", "child", c.child_id, ["conference_decisions"],
        {"conference_id": c.id, "decision_id": d.id},
    )  # fmt: skip
    return d


async def cancel_decision(
    session: AsyncSession, principal: Principal, decision_id: int, data: ConferenceReasonIn
) -> Decision:
    d, c = await _decision(session, principal, decision_id)
    if not may_manage(principal, c.community_id, c.street_id):
        raise Forbidden("只有本会商的召集方可撤销决定 (only the conference's managers cancel a decision)")
    _require_open(d)
    reason = data.reason.strip()
    if not reason:
        raise Invalid.field("reason", "请写明撤销原因 (the reason is required)")
    d.status, d.cancel_reason, d.cancelled_at, d.cancelled_by = "cancelled", reason, clock.now(), principal.account_id
    await session.flush()
    await _maybe_close(session, c)
    await audit.record(
        session, principal, "conference_decision_cancel", "child", c.child_id, ["conference_decisions"],
        {"conference_id": c.id, "decision_id": d.id},
    )  # fmt: skip
    return d


async def revise(
    session: AsyncSession, principal: Principal, decision_id: int, data: ConferenceDecisionReviseIn
) -> Decision:
    """A new owner and/or due date (a revision row: the decision's history kept); the new owner is told."""
    d, c = await _decision(session, principal, decision_id)
    if not may_manage(principal, c.community_id, c.street_id):
        raise Forbidden("只有本会商的召集方可调整决定 (only the conference's managers revise a decision)")
    _require_open(d)
    reason = data.reason.strip()
    if not reason:
        raise Invalid.field("reason", "请写明调整原因 (the reason is required)")
    responsible, owner_user, owner_party = d.responsible_id, d.owner_user_id, d.owner_party_id
    if data.owner_user_id is not None or data.owner_party_id is not None:
        people = await _participants(session, c.id)
        responsible, owner_user, owner_party = _owner(
            people, data.owner_user_id, data.owner_party_id, data.follow_up_by
        )
    due = d.due_on
    if data.due_on is not None:
        _check_due(data.due_on)
        due = data.due_on
    if (responsible, owner_user, owner_party, due) == (d.responsible_id, d.owner_user_id, d.owner_party_id, d.due_on):
        raise Invalid.field("due_on", "负责人和完成期限均未改变 (nothing changes)")
    session.add(
        DecisionRevision(
            decision_id=d.id,
            old_responsible_id=d.responsible_id,
            new_responsible_id=responsible,
            old_owner_party_id=d.owner_party_id,
            new_owner_party_id=owner_party,
            old_due_on=d.due_on,
            new_due_on=due,
            reason=reason,
            revised_by=principal.account_id,
            created_at=clock.now(),
        )
    )
    d.responsible_id, d.owner_user_id, d.owner_party_id, d.due_on = responsible, owner_user, owner_party, due
    await session.flush()
    await notifications.notify(
        session,
        [responsible],
        key=f"conference-decision-assigned:{d.id}:{responsible}:{due.isoformat()}",
        kind="conference_decision_assigned",
        title="会商决定调整",
        body=f"个案会商的一项决定已调整，由您负责跟进，完成期限 {due.isoformat()}。",
        entity="conference",
        entity_id=c.id,
        data={"conference_id": c.id, "decision_id": d.id, "due_on": due.isoformat()},
    )
    await audit.record(
        session, principal, "conference_decision_revise", "child", c.child_id, ["conference_decisions"],
        {"conference_id": c.id, "decision_id": d.id},
    )  # fmt: skip
    return d


# ---------------------------------------------------------------- reading


def is_overdue(d: Decision, today: dt.date) -> bool:
    return d.status == "open" and d.due_on < today


def decision_stage(d: Decision, party_kinds: dict[int, str]) -> str:
    """``INTERVENTION_PARTIES`` (the police, the rescue station, a court) act on the guardianship: "intervention";
    everything else helps the child: "assistance"."""
    kind = party_kinds.get(d.owner_party_id) if d.owner_party_id is not None else None
    return "intervention" if kind in INTERVENTION_PARTIES else "assistance"


async def _decisions_of(session: AsyncSession, conference_ids: list[int]) -> dict[int, list[Decision]]:
    out: dict[int, list[Decision]] = {}
    if not conference_ids:
        return out
    rows = await session.scalars(
        select(Decision).where(Decision.conference_id.in_(conference_ids)).order_by(Decision.id)
    )
    for d in rows.all():
        out.setdefault(d.conference_id, []).append(d)
    return out


async def _revisions_of(session: AsyncSession, decision_ids: list[int]) -> dict[int, list[DecisionRevision]]:
    # Asked even for none, so a page costs the same statements whatever it holds.
    out: dict[int, list[DecisionRevision]] = {}
    rows = await session.scalars(
        select(DecisionRevision).where(DecisionRevision.decision_id.in_(decision_ids)).order_by(DecisionRevision.id)
    )
    for r in rows.all():
        out.setdefault(r.decision_id, []).append(r)
    return out


async def _names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    ids.discard(0)
    return {i: n for i, n in await session.execute(select(User.id, User.display_name).where(User.id.in_(ids)))}


def _decision_out(
    d: Decision,
    today: dt.date,
    names: dict[int, str],
    parties: dict[int, Participant],
    revisions: list[DecisionRevision],
) -> ConferenceDecisionOut:
    party = parties.get(d.owner_party_id) if d.owner_party_id is not None else None
    if party is not None:
        owner = f"{PARTY_KINDS.get(party.kind, party.kind)}·{party.organisation}（{party.name}）"
    else:
        owner = names.get(d.owner_user_id or 0, "")
    return ConferenceDecisionOut(
        id=d.id,
        conference_id=d.conference_id,
        child_id=d.child_id,
        text=d.text,
        owner=owner,
        owner_user_id=d.owner_user_id,
        owner_party_id=d.owner_party_id,
        responsible_id=d.responsible_id,
        responsible_name=names.get(d.responsible_id, ""),
        due_on=d.due_on,
        status=d.status,
        status_label=DECISION_STATUSES.get(d.status, d.status),
        overdue=is_overdue(d, today),
        stage=decision_stage(d, {p.id: p.kind for p in parties.values()}),
        done_note=d.done_note,
        done_at=d.done_at,
        done_by=d.done_by,
        cancel_reason=d.cancel_reason,
        cancelled_at=d.cancelled_at,
        revisions=[
            ConferenceDecisionRevisionOut(
                old_responsible_id=r.old_responsible_id,
                new_responsible_id=r.new_responsible_id,
                old_due_on=r.old_due_on,
                new_due_on=r.new_due_on,
                reason=r.reason,
                revised_by=r.revised_by,
                created_at=r.created_at,
            )
            for r in revisions
        ],
    )


async def present(session: AsyncSession, principal: Principal, rows: Sequence[Conference]) -> list[ConferenceOut]:
    """The conferences as the caller may see each (full, or the participant's view); the reads are audited."""
    if not rows:
        return []
    today = clock.today()
    ids = [c.id for c in rows]
    decisions = await _decisions_of(session, ids)
    people_rows = await session.scalars(
        select(Participant).where(Participant.conference_id.in_(ids)).order_by(Participant.id)
    )
    people: dict[int, list[Participant]] = {}
    for p in people_rows.all():
        people.setdefault(p.conference_id, []).append(p)
    all_decisions = [d for ds in decisions.values() for d in ds]
    revisions = await _revisions_of(session, [d.id for d in all_decisions])
    names = await _names(
        session,
        {p.user_id for ps in people.values() for p in ps if p.user_id}
        | {d.responsible_id for d in all_decisions}
        | {d.owner_user_id for d in all_decisions if d.owner_user_id},
    )
    children = {
        ch.id: ch for ch in (await session.scalars(select(Child).where(Child.id.in_({c.child_id for c in rows})))).all()
    }
    full_ids: list[int] = []
    part_ids: list[int] = []
    out: list[ConferenceOut] = []
    for c in rows:
        child = children[c.child_id]
        parties = {p.id: p for p in people.get(c.id, []) if p.user_id is None}
        mine_only = not _full_reader(principal, c)
        shown = [d for d in decisions.get(c.id, []) if not mine_only or d.responsible_id == principal.user_id]
        ds = [_decision_out(d, today, names, parties, revisions.get(d.id, [])) for d in shown]
        common: dict[str, Any] = {
            "id": c.id,
            "child_id": c.child_id,
            "topic": c.topic,
            "scheduled_at": c.scheduled_at,
            "place": c.place,
            "status": c.status,
            "status_label": CONFERENCE_STATUSES.get(c.status, c.status),
            "decisions": ds,
            "share_note": child.share_note,
            "open_decisions": sum(1 for d in ds if d.status == "open"),
            "overdue_decisions": sum(1 for d in ds if d.overdue),
        }
        if mine_only:
            part_ids.append(c.child_id)
            out.append(ConferenceOut(view="participant", **common))
            continue
        full_ids.append(c.child_id)
        out.append(
            ConferenceOut(
                view="full",
                child_name=child.name,
                community_id=c.community_id,
                street_id=c.street_id,
                minutes=c.minutes,
                held_at=c.held_at,
                cancel_reason=c.cancel_reason,
                convened_by=c.convened_by,
                created_at=c.created_at,
                participants=[
                    ConferenceParticipantOut(
                        id=p.id,
                        kind=p.kind,
                        kind_label="内部人员" if p.kind == INTERNAL else PARTY_KINDS.get(p.kind, p.kind),
                        user_id=p.user_id,
                        name=names.get(p.user_id, "") if p.user_id else p.name,
                        organisation=p.organisation,
                        contact=p.contact,
                        attended=p.attended,
                    )
                    for p in people.get(c.id, [])
                ],
                **common,
            )
        )
    if full_ids:
        await audit.record_read(session, principal, "read_conference", "child", sorted(set(full_ids)), FULL_FIELDS)
    if part_ids:
        await audit.record_read(
            session, principal, "read_conference", "child", sorted(set(part_ids)), PARTICIPANT_FIELDS
        )
    return out


async def list_conferences(
    session: AsyncSession,
    principal: Principal,
    *,
    status: str | None = None,
    child_id: int | None = None,
    mine: bool = False,
    overdue: bool = False,
    limit: int,
    offset: int,
) -> tuple[list[Conference], int]:
    stmt = select(Conference)
    clause = _scope(principal)
    if clause is not None:
        stmt = stmt.where(clause)
    if status:
        stmt = stmt.where(Conference.status == status)
    if child_id is not None:
        stmt = stmt.where(Conference.child_id == child_id)
    if mine:
        stmt = stmt.where(_mine(principal.user_id) if principal.user_id else false())
    if overdue:
        stmt = stmt.where(
            exists().where(
                Decision.conference_id == Conference.id, Decision.status == "open", Decision.due_on < clock.today()
            )
        )
    total = int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = await session.scalars(
        stmt.order_by(Conference.scheduled_at.desc(), Conference.id.desc()).limit(limit).offset(offset)
    )
    return list(rows.all()), total


async def my_decisions(
    session: AsyncSession, principal: Principal, *, limit: int, offset: int
) -> tuple[list[ConferenceDecisionOut], int]:
    """The caller's open decisions (those they answer for), the soonest due first."""
    if not principal.user_id:
        return [], 0
    stmt = select(Decision).where(Decision.responsible_id == principal.user_id, Decision.status == "open")
    total = int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = list((await session.scalars(stmt.order_by(Decision.due_on, Decision.id).limit(limit).offset(offset))).all())
    if not rows:
        return [], total
    conf_ids = sorted({d.conference_id for d in rows})
    parties = {
        p.id: p
        for p in (
            await session.scalars(
                select(Participant).where(Participant.conference_id.in_(conf_ids), Participant.user_id.is_(None))
            )
        ).all()
    }
    revisions = await _revisions_of(session, [d.id for d in rows])
    names = await _names(session, {d.responsible_id for d in rows} | {d.owner_user_id for d in rows if d.owner_user_id})
    today = clock.today()
    await audit.record_read(
        session, principal, "list_decisions", "child", sorted({d.child_id for d in rows}), ["own_decisions"]
    )
    return [_decision_out(d, today, names, parties, revisions.get(d.id, [])) for d in rows], total


# ---------------------------------------------------------------- the job


async def remind_decisions(session: AsyncSession, today: dt.date | None = None) -> dict[str, int]:
    """Tell the account answering for an open decision ``REMIND_DAYS`` before it is due; once it is overdue, tell
    the street's supervisors (urgent) and the account again. One notification per decision, due date and
    recipient (a revised due date starts again); a run repeated tells nobody twice."""
    today = today or clock.today()
    rows = (
        await session.execute(
            select(Decision, Conference)
            .join(Conference, Conference.id == Decision.conference_id)
            .where(Decision.status == "open", Decision.due_on <= today + dt.timedelta(days=REMIND_DAYS))
            .order_by(Decision.id)
        )
    ).all()
    due = overdue = 0
    for d, c in rows:
        payload = {"conference_id": c.id, "decision_id": d.id, "due_on": d.due_on.isoformat()}
        if d.due_on >= today:
            added = await notifications.notify(
                session,
                [d.responsible_id],
                key=f"conference-decision-due:{d.id}:{d.due_on.isoformat()}",
                kind="conference_decision_due",
                title="会商决定即将到期",
                body=f"您负责跟进的一项个案会商决定将于 {d.due_on.isoformat()} 到期，请按时落实并标记完成。",
                entity="conference",
                entity_id=c.id,
                data=payload,
            )
            due += len(added)
            continue
        days = (today - d.due_on).days
        supervisors = await notifications.street_supervisors(session, c.street_id)
        added = await notifications.notify(
            session,
            [*supervisors, d.responsible_id],
            key=f"conference-decision-overdue:{d.id}:{d.due_on.isoformat()}",
            kind="conference_decision_overdue",
            title="会商决定逾期未落实",
            body=f"一项个案会商决定应于 {d.due_on.isoformat()} 完成，已逾期 {days} 天，请督促落实。",
            entity="conference",
            entity_id=c.id,
            data={**payload, "urgent": True, "level": "supervisor"},
        )
        overdue += len(added)
    return {"due": due, "overdue": overdue}


# ---------------------------------------------------------------- the timeline


def _day_after(on: dt.date) -> dt.datetime:
    """The instant a decision due ``on`` became overdue: the district's midnight after it."""
    return dt.datetime.combine(on + dt.timedelta(days=1), dt.time(0, 0), tzinfo=clock.DISTRICT_TZ).astimezone(dt.UTC)


async def loop_events(session: AsyncSession, child: Child) -> list[LoopEvent]:
    """Convened and held in "assessment"; each decision made, done and overdue in "intervention" when an
    intervening party owns it (``INTERVENTION_PARTIES``), else "assistance". No identity number or address."""
    confs = list(
        (await session.scalars(select(Conference).where(Conference.child_id == child.id).order_by(Conference.id))).all()
    )
    if not confs:
        return []
    ids = [c.id for c in confs]
    decisions = await _decisions_of(session, ids)
    kinds = {
        pid: kind
        for pid, kind in await session.execute(
            select(Participant.id, Participant.kind).where(
                Participant.conference_id.in_(ids), Participant.user_id.is_(None)
            )
        )
    }
    today = clock.today()
    events: list[LoopEvent] = []
    for c in confs:
        local = c.scheduled_at.astimezone(clock.DISTRICT_TZ)
        events.append(
            LoopEvent(
                c.created_at, "assessment", "conference_convened", "召集个案会商",
                f"{c.topic}（{local:%Y-%m-%d %H:%M}{'，' + c.place if c.place else ''}）", "conference", c.id,
            )
        )  # fmt: skip
        if c.held_at is not None:
            events.append(
                LoopEvent(c.held_at, "assessment", "conference_held", "个案会商已召开", c.topic, "conference", c.id)
            )
        if c.cancelled_at is not None:
            events.append(
                LoopEvent(
                    c.cancelled_at, "assessment", "conference_cancelled", "个案会商已取消", c.cancel_reason,
                    "conference", c.id,
                )
            )  # fmt: skip
        for d in decisions.get(c.id, []):
            stage = decision_stage(d, kinds)
            events.append(
                LoopEvent(
                    d.created_at, stage, "conference_decision", "会商决定",
                    f"{d.text}（期限 {d.due_on.isoformat()}）", "conference", c.id,
                )
            )  # fmt: skip
            late = _day_after(d.due_on)
            if (d.status == "open" and d.due_on < today) or (d.done_at is not None and d.done_at >= late):
                events.append(
                    LoopEvent(late, stage, "conference_decision_overdue", "会商决定逾期", d.text, "conference", c.id)
                )
            if d.done_at is not None:
                events.append(
                    LoopEvent(
                        d.done_at, stage, "conference_decision_done", "会商决定已落实", d.done_note, "conference", c.id
                    )
                )
            if d.cancelled_at is not None:
                events.append(
                    LoopEvent(
                        d.cancelled_at, stage, "conference_decision_cancelled", "会商决定已撤销", d.cancel_reason,
                        "conference", c.id,
                    )
                )  # fmt: skip
    return events
