"""File transfers (one person, one file): a child director asks for the file that holds an identity number to move
to their community; the holding community's director or its street's supervisor approves or rejects; the requester
may cancel while it waits. Approval moves the file, its open needs and (through ``ports.move_referrals``) their
referrals in one transaction, and each side is told."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.audit import service as audit
from marketplace.auth.principal import Principal
from marketplace.cases import notifications, ports
from marketplace.cases.crypto import field_cipher, resident_id_problem
from marketplace.cases.models import Child, ChildTransfer, MandatoryReport, Need
from marketplace.cases.readmodel import DISTRICT_READERS
from marketplace.cases.taxonomy import SETTLED_NEED_STATUSES, TRANSFER_STATUSES
from marketplace.cases.transfer_schemas import CommunityRef, TransferIn, TransferOut
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.geography.models import Community
from marketplace.pagination import fetch_page
from marketplace.settings import Settings
from marketplace.statemachine import StateMachine, Transition

TRANSFER_LIFECYCLE: Final = StateMachine(
    "transfer",
    TRANSFER_STATUSES,
    [
        Transition("approve", frozenset({"pending"}), "approved", "批准转档"),
        Transition("reject", frozenset({"pending"}), "rejected", "驳回转档"),
        Transition("cancel", frozenset({"pending"}), "cancelled", "撤回申请"),
    ],
)
HOLDER_ACTIONS: Final = frozenset({"approve", "reject"})
REQUESTER_ACTIONS: Final = frozenset({"cancel"})


def _not_found(transfer_id: int) -> NotFound:
    return NotFound(f"转档申请 {transfer_id} 不存在 (transfer not found)")


# ---------------------------------------------------------------- who


def is_requester(principal: Principal, t: ChildTransfer) -> bool:
    return principal.role == "child_director" and principal.community_id == t.to_community_id


def is_holder(principal: Principal, t: ChildTransfer, holding_street_id: int) -> bool:
    """The holding community's director, or the supervisor of its street: they decide."""
    return (principal.role == "child_director" and principal.community_id == t.from_community_id) or (
        principal.role == "child_supervisor" and principal.street_id == holding_street_id
    )


def _scope(principal: Principal) -> ColumnElement[bool] | None:
    """The transfers the caller may list; None means all (the district's readers)."""
    if principal.role == "child_director":
        return or_(
            ChildTransfer.to_community_id == principal.community_id,
            ChildTransfer.from_community_id == principal.community_id,
        )
    if principal.role == "child_supervisor":
        holding = select(Community.id).where(Community.street_id == principal.street_id)
        return ChildTransfer.from_community_id.in_(holding)
    if principal.role in DISTRICT_READERS:
        return None
    return false()


def _allowed(principal: Principal, t: ChildTransfer, holding_street_id: int) -> list[str]:
    names = []
    for name in TRANSFER_LIFECYCLE.allowed(t.status):
        if (name in HOLDER_ACTIONS and is_holder(principal, t, holding_street_id)) or (
            name in REQUESTER_ACTIONS and is_requester(principal, t)
        ):
            names.append(name)
    return names


async def _street_of(session: AsyncSession, community_id: int) -> int:
    street = await session.scalar(select(Community.street_id).where(Community.id == community_id))
    assert street is not None
    return street


# ---------------------------------------------------------------- asking


async def request(session: AsyncSession, principal: Principal, settings: Settings, data: TransferIn) -> ChildTransfer:
    principal.require("child_director")
    if principal.community_id is None:
        raise Forbidden("儿童主任未关联社区 (the director has no community)")
    number = data.id_number.strip().upper()
    problem = resident_id_problem(number)
    if problem:
        raise Invalid.field("id_number", f"身份证号无效：{problem}")
    cipher = field_cipher(settings)
    child = await session.scalar(
        select(Child)
        .where(Child.id_number_hmac.in_(cipher.lookup_hashes(number)))
        .order_by(Child.id)
        .limit(1)
        .with_for_update()
    )
    if child is None:
        raise NotFound("没有持有该身份证号的儿童档案 (no file holds this identity number)")
    if child.community_id == principal.community_id:
        raise Conflict("该儿童档案已在本社区 (the file is already in your community)", code="already_here")
    pending = await session.scalar(
        select(ChildTransfer.id).where(ChildTransfer.child_id == child.id, ChildTransfer.status == "pending")
    )
    if pending is not None:
        raise Conflict(
            "该档案已有待审批的转档申请 (a transfer of this file is already pending)", code="transfer_pending"
        )
    t = ChildTransfer(
        child_id=child.id,
        from_community_id=child.community_id,
        to_community_id=principal.community_id,
        status="pending",
        reason=data.reason.strip(),
        requested_by=principal.user_id,
    )
    session.add(t)
    await session.flush()
    await audit.record(
        session, principal, "transfer_request", "child", child.id, [], {"transfer_id": t.id, "to": t.to_community_id}
    )
    names = await _names(session, [t])
    holders = await notifications.community_directors(session, t.from_community_id)
    holders += await notifications.street_supervisors(session, child.street_id)
    await notifications.notify(
        session,
        holders,
        key=f"transfer-request:{t.id}",
        kind="transfer_request",
        title="收到儿童档案转档申请",
        body=f"{names[t.to_community_id]}申请将{child.name}的档案转入：{t.reason}",
        entity="child_transfer",
        entity_id=t.id,
        data={"child_id": child.id, "to_community_id": t.to_community_id},
    )
    return t


# ---------------------------------------------------------------- deciding


async def _load(session: AsyncSession, transfer_id: int, *, lock: bool = False) -> ChildTransfer:
    stmt = select(ChildTransfer).where(ChildTransfer.id == transfer_id)
    if lock:
        stmt = stmt.with_for_update()
    t = await session.scalar(stmt)
    if t is None:
        raise _not_found(transfer_id)
    return t


async def visible(session: AsyncSession, principal: Principal, transfer_id: int) -> ChildTransfer:
    t = await _load(session, transfer_id)
    clause = _scope(principal)
    if clause is not None:
        seen = await session.scalar(select(ChildTransfer.id).where(ChildTransfer.id == t.id, clause))
        if seen is None:
            raise _not_found(transfer_id)
    return t


async def decide(
    session: AsyncSession, principal: Principal, transfer_id: int, name: str, *, note: str = ""
) -> ChildTransfer:
    """approve / reject (the holding side) or cancel (the requester), through ``TRANSFER_LIFECYCLE``."""
    t = await visible(session, principal, transfer_id)
    t = await _load(session, t.id, lock=True)
    holding_street = await _street_of(session, t.from_community_id)
    allowed = (name in HOLDER_ACTIONS and is_holder(principal, t, holding_street)) or (
        name in REQUESTER_ACTIONS and is_requester(principal, t)
    )
    if not allowed:
        who = "转出社区儿童主任或其街道督导员" if name in HOLDER_ACTIONS else "申请社区儿童主任"
        raise Forbidden(f"只有{who}可以执行此操作 (not allowed to {name} this transfer)")
    return await _settle(session, principal, t, name, note, holding_street)


async def reassign(
    session: AsyncSession, principal: Principal, child: Child, to_community_id: int, reason: str
) -> ChildTransfer:
    """Move the file to another community of its street at once (``cases.escalation``: a supervisor, or the
    district, reassigns an overdue visit to a director there): a transfer requested and approved in one step, with
    the same moves, audit rows and notices as an approved request. The caller has checked the scope."""
    pending = await session.scalar(
        select(ChildTransfer.id).where(ChildTransfer.child_id == child.id, ChildTransfer.status == "pending")
    )
    if pending is not None:
        raise Conflict(
            "该档案已有待审批的转档申请，请先处理 (a transfer of this file is already pending)", code="transfer_pending"
        )
    t = ChildTransfer(
        child_id=child.id,
        from_community_id=child.community_id,
        to_community_id=to_community_id,
        status="pending",
        reason=reason,
        requested_by=principal.user_id,
    )
    session.add(t)
    await session.flush()
    await audit.record(
        session, principal, "transfer_request", "child", child.id, [], {"transfer_id": t.id, "to": to_community_id}
    )
    return await _settle(session, principal, t, "approve", reason, child.street_id)


async def _settle(
    session: AsyncSession, principal: Principal, t: ChildTransfer, name: str, note: str, holding_street: int
) -> ChildTransfer:
    t.status = TRANSFER_LIFECYCLE.target(t.status, name)
    t.decided_by, t.decided_at, t.decision_note = principal.user_id, clock.now(), note.strip()
    child = await session.scalar(select(Child).where(Child.id == t.child_id).with_for_update())
    assert child is not None
    detail: dict[str, object] = {"transfer_id": t.id, "from": t.from_community_id, "to": t.to_community_id}
    if name == "approve":
        if child.community_id != t.from_community_id:
            raise Conflict("档案已不在转出社区 (the file has moved since the request)", code="file_moved")
        street = await _street_of(session, t.to_community_id)
        child.community_id, child.street_id = t.to_community_id, street
        needs = list(
            (
                await session.scalars(
                    select(Need)
                    .where(Need.child_id == child.id, Need.status.not_in(SETTLED_NEED_STATUSES))
                    .order_by(Need.id)
                    .with_for_update()
                )
            ).all()
        )
        for need in needs:
            need.community_id, need.street_id = t.to_community_id, street
        moved = await ports.move_referrals(session, [n.id for n in needs], t.to_community_id, street)
        # The child's mandatory reports still being handled follow the file, so its new director and supervisor
        # read and acknowledge them; closed ones stay where they were handled.
        reports = list(
            (
                await session.scalars(
                    select(MandatoryReport)
                    .where(MandatoryReport.child_id == child.id, MandatoryReport.status != "closed")
                    .order_by(MandatoryReport.id)
                    .with_for_update()
                )
            ).all()
        )
        for report in reports:
            report.community_id, report.street_id = t.to_community_id, street
        detail |= {
            "need_ids": [n.id for n in needs],
            "referral_ids": list(moved),
            "report_ids": [r.id for r in reports],
        }
        await audit.record(session, principal, "transfer", "child", child.id, ["community_id", "street_id"], detail)
    else:
        await audit.record(session, principal, f"transfer_{name}", "child", child.id, [], detail)
    await session.flush()
    await _tell_other_side(session, t, name, child, holding_street)
    return t


async def _tell_other_side(
    session: AsyncSession, t: ChildTransfer, name: str, child: Child, holding_street: int
) -> None:
    names = await _names(session, [t])
    if name == "cancel":
        recipients = await notifications.community_directors(session, t.from_community_id)
        recipients += await notifications.street_supervisors(session, holding_street)
        body = f"{names[t.to_community_id]}撤回了{child.name}档案的转档申请。"
    else:
        recipients = await notifications.community_directors(session, t.to_community_id)
        if t.requested_by:
            recipients.append(t.requested_by)
        verdict = "已批准，档案已转入本社区" if name == "approve" else f"已驳回。{t.decision_note}"
        body = f"向{names[t.from_community_id]}提出的转档申请{verdict}"
    await notifications.notify(
        session,
        recipients,
        key=f"transfer-{name}:{t.id}",
        kind=f"transfer_{name}",
        title=f"转档申请{TRANSFER_STATUSES[t.status]}",
        body=body,
        entity="child_transfer",
        entity_id=t.id,
        data={"child_id": child.id} if name != "reject" else {},
    )


# ---------------------------------------------------------------- reading


async def list_transfers(
    session: AsyncSession, principal: Principal, *, status: str | None, limit: int, offset: int
) -> tuple[list[ChildTransfer], int]:
    stmt = select(ChildTransfer)
    clause = _scope(principal)
    if clause is not None:
        stmt = stmt.where(clause)
    if status:
        stmt = stmt.where(ChildTransfer.status == status)
    return await fetch_page(session, stmt, ChildTransfer.id.desc(), limit=limit, offset=offset)


async def _names(session: AsyncSession, transfers: Sequence[ChildTransfer]) -> dict[int, str]:
    ids = {t.from_community_id for t in transfers} | {t.to_community_id for t in transfers}
    return dict((await session.execute(select(Community.id, Community.name).where(Community.id.in_(ids)))).all())


async def present(session: AsyncSession, principal: Principal, transfers: Sequence[ChildTransfer]) -> list[TransferOut]:
    """Transfers as the caller may see them: the child is named to the holding side and the district, and to the
    requester once the file is theirs; reading it is audited."""
    if not transfers:
        return []
    names = await _names(session, transfers)
    streets = dict(
        (
            await session.execute(
                select(Community.id, Community.street_id).where(
                    Community.id.in_({t.from_community_id for t in transfers})
                )
            )
        ).all()
    )
    children = dict(
        (await session.execute(select(Child.id, Child.name).where(Child.id.in_({t.child_id for t in transfers})))).all()
    )
    out, shown = [], []
    for t in transfers:
        holder = is_holder(principal, t, streets[t.from_community_id]) or principal.role in DISTRICT_READERS
        names_child = holder or (is_requester(principal, t) and t.status == "approved")
        if names_child:
            shown.append(t.child_id)
        out.append(
            TransferOut(
                id=t.id,
                status=t.status,
                status_label=TRANSFER_STATUSES[t.status],
                from_community=CommunityRef(t.from_community_id, names.get(t.from_community_id, "")),
                to_community=CommunityRef(t.to_community_id, names.get(t.to_community_id, "")),
                reason=t.reason,
                created_at=t.created_at,
                decided_at=t.decided_at,
                decision_note=t.decision_note,
                allowed_actions=_allowed(principal, t, streets[t.from_community_id]),
                child_id=t.child_id if names_child else None,
                child_name=children.get(t.child_id) if names_child else None,
            )
        )
    if shown:
        await audit.record_read(session, principal, "list_transfers", "child", shown, ["name"])
    return out
