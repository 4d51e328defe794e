"""Allowance eligibility as decisions: proposed by the child's director with evidence, reviewed by the street's
supervisor, approved by the district with the month it takes effect; ending an allowance (the child is adopted,
leaves the district, …) goes the same way. Turning 18 ends it by itself: no allowance is paid for a month that
starts on or after the 18th birthday.

A child's category tags (``children.categories``) are what the director records about the child; they no longer make
anyone eligible: only an approved ``grant`` decision does, from its effective month until an approved ``cease``.

The start rule (``ALLOWANCE_START_RULE``, marketplace.settings.AllowanceRules) sets the earliest effective month:
``next_month`` (the month after the district's approval: a file approved today is not paid for the current month)
or ``approval_month``. An earlier effective month is refused (422).

``in_force`` answers, for a month, which grants are in force (per child and source); the monthly run
(marketplace.procurement.allowances) pays the ``district_budget`` ones, and the duplicate-aid check
(marketplace.reports.duplicate_aid) flags a child with grants of one kind from two sources.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.audit import service as audit
from marketplace.auth.principal import Principal
from marketplace.cases.crypto import FieldCipher
from marketplace.cases.eligibility_models import AllowanceDecision, AllowancePayee
from marketplace.cases.eligibility_schemas import ApprovalIn, DecisionIn, DecisionOut, PayeeIn, PayeeOut, ReviewIn
from marketplace.cases.models import Child
from marketplace.cases.readmodel import DISTRICT_READERS
from marketplace.cases.service import can_read, load_child, require_director, scope_clause, visible_child
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.resources.taxonomy import CHILD_CATEGORIES
from marketplace.settings import Settings
from marketplace.statemachine import StateMachine, Transition

KINDS: Final[dict[str, str]] = {"living_allowance": "困境儿童基本生活补贴"}
# The categories a living allowance may be granted for (the rate is looked up by the category).
GRANT_CATEGORIES: Final = frozenset(
    {"orphan", "de_facto_unsupported", "disabled", "seriously_ill", "economic_hardship", "hiv_affected"}
)
ACTIONS: Final[dict[str, str]] = {"grant": "认定享受", "cease": "停止发放"}
CEASE_REASONS: Final[dict[str, str]] = {
    "turned_18": "年满18周岁",
    "adopted": "被依法收养",
    "left_district": "迁出本区",
    "died": "死亡",
    "other": "其他",
}
BUDGET_SOURCE: Final = "district_budget"
STATUSES: Final[dict[str, str]] = {
    "proposed": "待审核",
    "reviewed": "待审批",
    "approved": "已批准",
    "rejected": "未通过",
}
MACHINE: Final = StateMachine(
    "allowance_decision",
    STATUSES,
    [
        Transition("review", frozenset({"proposed"}), "reviewed", "督导员审核"),
        Transition("reject_review", frozenset({"proposed"}), "rejected", "督导员退回"),
        Transition("approve", frozenset({"reviewed"}), "approved", "区民政局审批"),
        Transition("reject", frozenset({"reviewed"}), "rejected", "区民政局不予批准"),
    ],
)
PAYEE_FIELD: Final = "allowance_payees.account"
PAYEE_FIELDS: Final = ("payee_name", "bank_name", "account_last4")


# ---------------------------------------------------------------- months


def month_key(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def month_start(month: str) -> dt.date:
    try:
        year, mon = month.split("-")
        return dt.date(int(year), int(mon), 1)
    except ValueError:
        raise Invalid.field("month", "月份格式须为 YYYY-MM (month as YYYY-MM)") from None


def add_months(month: str, n: int) -> str:
    first = month_start(month)
    index = first.year * 12 + first.month - 1 + n
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def first_payable_month(settings: Settings, approved_on: dt.date) -> str:
    """The earliest month a decision approved on ``approved_on`` takes effect under the start rule."""
    month = month_key(approved_on)
    return month if settings.allowances.start_rule == "approval_month" else add_months(month, 1)


def eighteenth_birthday(birth: dt.date) -> dt.date:
    try:
        return birth.replace(year=birth.year + 18)
    except ValueError:  # born 29 February
        return dt.date(birth.year + 18, 3, 1)


def is_minor_for(birth: dt.date, month: str) -> bool:
    """Paid for ``month`` only while under 18 on its first day: it stops the month after the 18th birthday."""
    return eighteenth_birthday(birth) > month_start(month)


# ---------------------------------------------------------------- in force


@dataclass(frozen=True)
class Grant:
    """An approved grant in force in a month."""

    decision_id: int
    child_id: int
    name: str
    community_id: int
    street_id: int
    category: str
    source: str
    effective_month: str


async def in_force(
    session: AsyncSession, kind: str, month: str, *, source: str | None = None, child_ids: Sequence[int] | None = None
) -> list[Grant]:
    """The grants of ``kind`` in force in ``month`` (approved, effective by then, not ceased since), for children
    whose file is open and who are under 18 on the month's first day; ``source`` keeps one source only."""
    month_start(month)
    stmt = (
        select(AllowanceDecision, Child.name, Child.birth_date, Child.status)
        .join(Child, Child.id == AllowanceDecision.child_id)
        .where(
            AllowanceDecision.kind == kind,
            AllowanceDecision.status == "approved",
            AllowanceDecision.effective_month <= month,
        )
        .order_by(AllowanceDecision.effective_month, AllowanceDecision.decided_at, AllowanceDecision.id)
    )
    if child_ids is not None:
        stmt = stmt.where(AllowanceDecision.child_id.in_(list(child_ids)))
    active: dict[int, dict[str, AllowanceDecision]] = {}
    facts: dict[int, tuple[str, dt.date, str]] = {}
    for decision, name, birth, status in (await session.execute(stmt)).all():
        facts[decision.child_id] = (name, birth, status)
        if decision.action == "cease":
            active.pop(decision.child_id, None)
        else:
            active.setdefault(decision.child_id, {})[decision.source] = decision
    out = []
    for child_id in sorted(active):
        name, birth, status = facts[child_id]
        if status != "active" or not is_minor_for(birth, month):
            continue
        for src, d in sorted(active[child_id].items()):
            if source is None or src == source:
                out.append(
                    Grant(d.id, child_id, name, d.community_id, d.street_id, d.category, src, d.effective_month or "")
                )
    return out


# ---------------------------------------------------------------- decisions


def _check_proposal(child: Child, data: DecisionIn) -> None:
    if data.action == "grant":
        if data.category not in GRANT_CATEGORIES:
            labels = "、".join(CHILD_CATEGORIES[c] for c in sorted(GRANT_CATEGORIES))
            raise Invalid.field("category", f"认定享受须注明儿童类别：{labels} (category required for a grant)")
        if data.category not in (child.categories or []):
            raise Invalid.field(
                "category",
                f"儿童档案未登记“{CHILD_CATEGORIES[data.category]}”类别，请先更新档案并附证明材料 "
                "(the child's file does not record that category)",
            )
        if data.reason:
            raise Invalid.field("reason", "认定享受无需停发原因 (a grant has no cessation reason)")
    else:
        if not data.reason:
            reasons = "、".join(CEASE_REASONS.values())
            raise Invalid.field("reason", f"停止发放须注明原因：{reasons} (reason required to end an allowance)")
        if data.category:
            raise Invalid.field("category", "停止发放无需儿童类别 (no category when ending an allowance)")


async def propose(session: AsyncSession, principal: Principal, child_id: int, data: DecisionIn) -> AllowanceDecision:
    child = await load_child(session, child_id, lock=True)
    require_director(principal, child)
    if child.status != "active":
        raise Conflict("儿童档案已结案，不能申请补贴 (the child's file is closed)")
    _check_proposal(child, data)
    pending = await session.scalar(
        select(AllowanceDecision.id).where(
            AllowanceDecision.child_id == child.id,
            AllowanceDecision.kind == data.kind,
            AllowanceDecision.status.in_(("proposed", "reviewed")),
        )
    )
    if pending is not None:
        raise Conflict("该儿童已有待审核的补贴申请 (a proposal for this child is still open)", existing_id=pending)
    standing = await _standing(session, child.id, data.kind)
    if data.action == "grant" and data.source in standing:
        raise Conflict(
            "该儿童已认定享受此项补贴，无需重复认定 (the child already has this allowance from that source)",
            decision_id=standing[data.source].id,
        )
    if data.action == "cease" and not standing:
        raise Conflict("该儿童未享受此项补贴，无需停发 (the child has no such allowance to end)")
    decision = AllowanceDecision(
        child_id=child.id,
        community_id=child.community_id,
        street_id=child.street_id,
        kind=data.kind,
        action=data.action,
        category=data.category,
        source=data.source,
        reason=data.reason,
        evidence=list(data.evidence),
        note=data.note,
        status="proposed",
        proposed_by=principal.account_id,
        proposed_at=clock.now(),
    )
    session.add(decision)
    await session.flush()
    return decision


async def _standing(session: AsyncSession, child_id: int, kind: str) -> dict[str, AllowanceDecision]:
    """The child's grants by source after every approved decision (including those taking effect later)."""
    rows = await session.scalars(
        select(AllowanceDecision)
        .where(
            AllowanceDecision.child_id == child_id,
            AllowanceDecision.kind == kind,
            AllowanceDecision.status == "approved",
        )
        .order_by(AllowanceDecision.effective_month, AllowanceDecision.decided_at, AllowanceDecision.id)
    )
    standing: dict[str, AllowanceDecision] = {}
    for d in rows.all():
        if d.action == "cease":
            standing.clear()
        else:
            standing[d.source] = d
    return standing


async def _visible(session: AsyncSession, principal: Principal, decision_id: int, *, lock: bool) -> AllowanceDecision:
    stmt = select(AllowanceDecision).where(AllowanceDecision.id == decision_id)
    if lock:
        stmt = stmt.with_for_update()
    decision = await session.scalar(stmt)
    if decision is None or not can_read(principal, decision.community_id, decision.street_id):
        raise NotFound(f"补贴认定 {decision_id} 不存在 (allowance decision not found)")
    return decision


async def review(session: AsyncSession, principal: Principal, decision_id: int, data: ReviewIn) -> AllowanceDecision:
    decision = await _visible(session, principal, decision_id, lock=True)
    if principal.role != "child_supervisor" or principal.street_id != decision.street_id:
        raise Forbidden("只有本街道儿童督导员可审核补贴申请 (only the street's child supervisor reviews)")
    decision.status = MACHINE.target(decision.status, "review" if data.approve else "reject_review")
    decision.reviewed_by = principal.account_id
    decision.reviewed_at = clock.now()
    decision.review_note = data.note
    return decision


async def decide(
    session: AsyncSession, principal: Principal, settings: Settings, decision_id: int, data: ApprovalIn
) -> AllowanceDecision:
    decision = await _visible(session, principal, decision_id, lock=True)
    if principal.role != "district_admin":
        raise Forbidden("只有区民政局可审批补贴认定 (only the district approves allowance decisions)")
    if decision.status == "proposed":
        raise Conflict(
            "补贴申请须先经街道儿童督导员审核 (the street's supervisor must review it first)",
            current_status=decision.status,
        )
    target = MACHINE.target(decision.status, "approve" if data.approve else "reject")
    if data.approve:
        today = clock.today()
        earliest = first_payable_month(settings, today)
        month = data.effective_month or earliest
        if month < earliest:
            rule = "批准当月起" if settings.allowances.start_rule == "approval_month" else "批准次月起"
            raise Invalid.field(
                "effective_month",
                f"按起始规则（{rule}），{today.isoformat()} 批准的认定最早自 {earliest} 起生效，不能为 {month} "
                f"(under the start rule the earliest effective month is {earliest})",
            )
        if decision.action == "grant":
            child = await load_child(session, decision.child_id)
            if child.status != "active":
                raise Conflict("儿童档案已结案，不能批准补贴 (the child's file is closed)")
        decision.effective_month = month
    elif data.effective_month is not None:
        raise Invalid.field("effective_month", "不予批准时无需生效月份 (no effective month when refusing)")
    decision.status = target
    decision.decided_by = principal.account_id
    decision.decided_at = clock.now()
    decision.decision_note = data.note
    return decision


async def list_decisions(
    session: AsyncSession,
    principal: Principal,
    *,
    status: str | None,
    child_id: int | None,
    limit: int,
    offset: int,
) -> tuple[list[tuple[AllowanceDecision, str]], int]:
    if principal.role not in DISTRICT_READERS | {"child_director", "child_supervisor"}:
        raise Forbidden("此角色无权查看补贴认定 (this role may not see allowance decisions)")
    where = []
    scope = scope_clause(principal, AllowanceDecision.community_id, AllowanceDecision.street_id)
    if scope is not None:
        where.append(scope)
    if status is not None:
        where.append(AllowanceDecision.status == status)
    if child_id is not None:
        where.append(AllowanceDecision.child_id == child_id)
    total = int(await session.scalar(select(func.count()).select_from(AllowanceDecision).where(*where)) or 0)
    rows = (
        await session.execute(
            select(AllowanceDecision, Child.name)
            .join(Child, Child.id == AllowanceDecision.child_id)
            .where(*where)
            .order_by(AllowanceDecision.id.desc())
            .limit(limit)
            .offset(offset)
        )
    ).all()
    out = [(d, name) for d, name in rows]
    await audit.record_read(
        session, principal, "list", "child", sorted({d.child_id for d, _ in out}), ["allowance_decisions"]
    )
    return out, total


async def read_decision(session: AsyncSession, principal: Principal, decision_id: int) -> tuple[AllowanceDecision, str]:
    decision = await _visible(session, principal, decision_id, lock=False)
    child = await load_child(session, decision.child_id)
    await audit.record_read(session, principal, "read", "child", [child.id], ["allowance_decisions"])
    return decision, child.name


def decision_out(d: AllowanceDecision, child_name: str) -> DecisionOut:
    return DecisionOut(
        id=d.id,
        child_id=d.child_id,
        child_name=child_name,
        community_id=d.community_id,
        street_id=d.street_id,
        kind=d.kind,
        action=d.action,
        action_label=ACTIONS.get(d.action, d.action),
        category=d.category,
        source=d.source,
        reason=d.reason,
        evidence=list(d.evidence or []),
        note=d.note,
        status=d.status,
        status_label=STATUSES.get(d.status, d.status),
        effective_month=d.effective_month,
        proposed_by=d.proposed_by,
        proposed_at=d.proposed_at,
        reviewed_by=d.reviewed_by,
        reviewed_at=d.reviewed_at,
        review_note=d.review_note,
        decided_by=d.decided_by,
        decided_at=d.decided_at,
        decision_note=d.decision_note,
    )


# ---------------------------------------------------------------- payees


def _account_digits(raw: str) -> str:
    digits = raw.replace(" ", "").replace("-", "")
    if not digits.isdigit() or not 10 <= len(digits) <= 30:
        raise Invalid.field("account", "银行账号须为 10 至 30 位数字 (a bank account is 10 to 30 digits)")
    return digits


def mask_account(last4: str) -> str:
    return f"**** **** **** {last4}"


async def set_payee(
    session: AsyncSession, principal: Principal, cipher: FieldCipher, child_id: int, data: PayeeIn
) -> AllowancePayee:
    """A new payee row for the child (never an edit): the director of the child's community or the district."""
    child = await load_child(session, child_id, lock=True)
    if principal.role != "district_admin":
        require_director(principal, child)
    digits = _account_digits(data.account)
    payee = AllowancePayee(
        child_id=child.id,
        kind=data.kind,
        name=data.name.strip(),
        bank_name=data.bank_name.strip(),
        account_enc=cipher.encrypt(digits, PAYEE_FIELD),
        account_last4=digits[-4:],
        created_by=principal.account_id,
        created_at=clock.now(),
    )
    session.add(payee)
    await session.flush()
    return payee


async def read_payee(session: AsyncSession, principal: Principal, child_id: int) -> AllowancePayee:
    child = await visible_child(session, principal, child_id)
    payee = await session.scalar(
        select(AllowancePayee).where(AllowancePayee.child_id == child.id).order_by(AllowancePayee.id.desc()).limit(1)
    )
    if payee is None:
        raise NotFound(f"儿童档案 {child_id} 尚未登记补贴收款人 (no payee recorded)")
    await audit.record_read(session, principal, "read", "child", [child.id], list(PAYEE_FIELDS))
    return payee


def payee_out(p: AllowancePayee) -> PayeeOut:
    return PayeeOut(
        id=p.id,
        child_id=p.child_id,
        kind=p.kind,
        name=p.name,
        bank_name=p.bank_name,
        account_masked=mask_account(p.account_last4),
        created_by=p.created_by,
        created_at=p.created_at,
    )


async def current_payees(session: AsyncSession, child_ids: Sequence[int]) -> dict[int, AllowancePayee]:
    """Each child's latest payee row."""
    if not child_ids:
        return {}
    latest = (
        select(func.max(AllowancePayee.id))
        .where(AllowancePayee.child_id.in_(list(child_ids)))
        .group_by(AllowancePayee.child_id)
    )
    rows = await session.scalars(select(AllowancePayee).where(AllowancePayee.id.in_(latest)))
    return {p.child_id: p for p in rows.all()}
