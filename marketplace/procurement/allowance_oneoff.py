"""One-off allowance runs: festival greetings (节日慰问金: 春节, 六一, 中秋…) and special payments (临时/专项补助).

They follow the monthly run's rules (``allowances``): integer fen, the budget line checked and committed when the
list is prepared, money rows never edited, the district's sign-off, the bank file, paid once, withdrawn before it is
paid (the commitment released). What differs:

- a run has a kind (festival | special), a title (2027年春节慰问), a payment date and the budget line it charges;
- festival: every child with a living-allowance grant in force in the payment month who has a payee, at one amount
  per child category or one typed amount for all; a child of a category with no amount is left out;
- special: an explicit list of children chosen among those eligible, each with an amount and a reason;
- nobody is paid twice by one run (``allowance_payments`` unique on run and person), and two festival runs with the
  same title in the same year are refused (a withdrawn or failed one does not count).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace.audit import service as audit
from marketplace.auth.principal import Principal
from marketplace.errors import Conflict, Invalid, NotFound
from marketplace.procurement import allowances
from marketplace.procurement import budget as ledger_side
from marketplace.procurement.models import AllowancePayment, AllowanceRun, Budget, BudgetLine
from marketplace.procurement.rules import yuan
from marketplace.procurement.service import require_read, require_write
from marketplace.resources.taxonomy import CHILD_CATEGORIES

RUN_KINDS: Final[dict[str, str]] = {"monthly": "月度发放", "festival": "节日慰问", "special": "临时/专项补助"}
ONE_OFF_KINDS: Final = allowances.ONE_OFF_KINDS
# Runs that hold (or will hold) a list: a festival title is taken by these, not by a withdrawn or failed one.
LIVE_STATUSES: Final = ("preparing", "prepared", "signed_off", "paid")
# How many children are checked per progress step of a long preparation.
STEP_SIZE: Final = 200

Progress = Callable[[int, int], Awaitable[None]]


@dataclass(frozen=True)
class SpecialPayee:
    child_id: int
    amount_fen: int
    reason: str


@dataclass(frozen=True)
class OneOffRequest:
    kind: str  # festival | special
    title: str
    pay_date: dt.date | None
    line_id: int | None
    amount_fen: int | None = None  # festival: one amount for every child (unless its category has one)
    category_amounts: dict[str, int] = field(default_factory=dict)  # festival: amount per child category
    payees: tuple[SpecialPayee, ...] = ()  # special: whom, how much, why

    def as_params(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "title": self.title,
            "pay_date": self.pay_date.isoformat() if self.pay_date else None,
            "line_id": self.line_id,
            "amount_fen": self.amount_fen,
            "category_amounts": dict(self.category_amounts),
            "payees": [{"child_id": p.child_id, "amount_fen": p.amount_fen, "reason": p.reason} for p in self.payees],
        }

    @classmethod
    def from_params(cls, params: dict[str, object]) -> OneOffRequest:
        raw_date = params.get("pay_date")
        raw_payees = params.get("payees") or []
        raw_amounts = params.get("category_amounts") or {}
        assert isinstance(raw_payees, list) and isinstance(raw_amounts, dict)
        amount = params.get("amount_fen")
        line_id = params.get("line_id")
        return cls(
            kind=str(params.get("kind", "")),
            title=str(params.get("title", "")),
            pay_date=dt.date.fromisoformat(raw_date) if isinstance(raw_date, str) else None,
            line_id=line_id if isinstance(line_id, int) else None,
            amount_fen=amount if isinstance(amount, int) else None,
            category_amounts={str(k): int(v) for k, v in raw_amounts.items()},
            payees=tuple(SpecialPayee(int(p["child_id"]), int(p["amount_fen"]), str(p["reason"])) for p in raw_payees),
        )


@dataclass(frozen=True)
class Checked:
    """A request found valid: its line, the pay month and who would be paid (before the budget check)."""

    request: OneOffRequest
    line: BudgetLine
    month: str
    dues: list[tuple[allowances.Person, int, str]]  # person, amount, reason
    missing_payee: int
    not_covered: int


def _month(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


async def _no_progress(done: int, total: int) -> None:
    return None


def validate_shape(req: OneOffRequest) -> None:
    """What can be told from the request alone (no database): 422 with the field."""
    if req.kind not in ONE_OFF_KINDS:
        raise Invalid.field("kind", "发放类型须为 monthly、festival 或 special (unknown run kind)")
    if not req.title.strip():
        raise Invalid.field("title", "请填写发放名称，如“2027年春节慰问” (title required)")
    if req.pay_date is None:
        raise Invalid.field("pay_date", "请填写发放日期 (pay_date required)")
    if req.line_id is None:
        raise Invalid.field("line_id", "请选择列支的预算科目 (line_id required)")
    if req.kind == "festival":
        if req.payees:
            raise Invalid.field("payees", "节日慰问按类别或统一金额发放，不逐人填写 (payees are for special runs)")
        for category, amount in req.category_amounts.items():
            if category not in CHILD_CATEGORIES:
                raise Invalid.field("category_amounts", f"未知儿童类别 '{category}' (unknown child category)")
            if amount <= 0:
                raise Invalid.field("category_amounts", "各类别金额须大于 0 (amounts must be positive)")
        if req.amount_fen is not None and req.amount_fen <= 0:
            raise Invalid.field("amount_fen", "慰问金额须大于 0 (amount must be positive)")
        if req.amount_fen is None and not req.category_amounts:
            raise Invalid.field("amount_fen", "请填写统一慰问金额或各类别金额 (an amount is required)")
    else:
        if req.amount_fen is not None or req.category_amounts:
            raise Invalid.field("amount_fen", "专项补助逐人填写金额与事由 (special runs list each payee's amount)")
        if not req.payees:
            raise Invalid.field("payees", "请至少选择一名补助对象 (choose at least one payee)")
        seen: set[int] = set()
        for i, p in enumerate(req.payees):
            if p.child_id in seen:
                raise Invalid.field(f"payees[{i}].child_id", f"儿童 {p.child_id} 重复列入 (a child is listed twice)")
            seen.add(p.child_id)
            if p.amount_fen <= 0:
                raise Invalid.field(f"payees[{i}].amount_fen", "补助金额须大于 0 (amount must be positive)")
            if not p.reason.strip():
                raise Invalid.field(f"payees[{i}].reason", "请填写补助事由 (reason required)")


async def _line(session: AsyncSession, req: OneOffRequest) -> BudgetLine:
    assert req.line_id is not None and req.pay_date is not None
    line = await session.get(BudgetLine, req.line_id)
    if line is None:
        raise Invalid.field("line_id", f"预算科目 {req.line_id} 不存在 (budget line not found)")
    budget = await session.get(Budget, line.budget_id)
    if budget is None or budget.fiscal_year != req.pay_date.year:
        year = budget.fiscal_year if budget else "?"
        raise Invalid.field("line_id", f"预算科目属 {year} 年预算，与发放日期 {req.pay_date} 不符 (wrong fiscal year)")
    return line


async def _title_taken(session: AsyncSession, req: OneOffRequest, *, exclude: int | None) -> None:
    if req.kind != "festival":
        return
    assert req.pay_date is not None
    year = req.pay_date.year
    stmt = select(AllowanceRun.id).where(
        AllowanceRun.kind == "festival",
        AllowanceRun.title == req.title.strip(),
        AllowanceRun.pay_date >= dt.date(year, 1, 1),
        AllowanceRun.pay_date <= dt.date(year, 12, 31),
        AllowanceRun.status.in_(LIVE_STATUSES),
    )
    if exclude is not None:
        stmt = stmt.where(AllowanceRun.id != exclude)
    clash = await session.scalar(stmt.limit(1))
    if clash is not None:
        raise Conflict(
            f"{year} 年已有名为“{req.title.strip()}”的节日发放（批次 {clash}），不能重复编制 "
            "(a festival run with this title exists for the year)",
            existing_id=clash,
        )


async def check(
    session: AsyncSession,
    principal: Principal | None,
    req: OneOffRequest,
    *,
    run_id: int | None = None,
    progress: Progress = _no_progress,
) -> Checked:
    """Validate the request against the database and find who is paid how much. Reads only."""
    if principal is not None:
        require_write(principal)
    validate_shape(req)
    assert req.pay_date is not None
    line = await _line(session, req)
    await _title_taken(session, req, exclude=run_id)
    month = _month(req.pay_date)
    people = await allowances.eligible_children(session, month)
    by_child = {int(p.key.split(":")[1]): p for p in people}
    total_steps = 2 + (len(people) + STEP_SIZE - 1) // STEP_SIZE
    await progress(1, total_steps)
    dues: list[tuple[allowances.Person, int, str]] = []
    missing = not_covered = 0
    if req.kind == "special":
        for i, wanted in enumerate(req.payees):
            person = by_child.get(wanted.child_id)
            if person is None:
                raise Invalid.field(
                    f"payees[{i}].child_id",
                    f"儿童 {wanted.child_id} 在 {month} 没有有效的生活补贴认定，不能列入 (not an eligible child)",
                )
            if person.payee_id is None:
                raise Invalid.field(
                    f"payees[{i}].child_id",
                    f"儿童“{person.name}”尚未登记收款人（银行账户），请先登记 (no payee recorded)",
                )
            dues.append((person, wanted.amount_fen, wanted.reason.strip()[:300]))
        await progress(total_steps - 1, total_steps)
        return Checked(req, line, month, dues, 0, 0)
    seen: set[str] = set()
    for start in range(0, len(people), STEP_SIZE):
        for person in people[start : start + STEP_SIZE]:
            if person.key in seen:
                continue
            seen.add(person.key)
            amount = req.category_amounts.get(person.category, req.amount_fen or 0)
            if amount <= 0:
                not_covered += 1
                continue
            if person.payee_id is None:
                missing += 1
                continue
            dues.append((person, amount, req.title.strip()[:300]))
        await progress(2 + start // STEP_SIZE, total_steps)
    return Checked(req, line, month, dues, missing, not_covered)


async def write(
    session: AsyncSession,
    principal: Principal | None,
    checked: Checked,
    *,
    run: AllowanceRun | None = None,
    festival_key: str | None = None,
) -> allowances.RunResult:
    """Lock the line, check its room, write the list and commit the amount; all or nothing. ``festival_key``: the
    run of a festival plan (``festivals``), its payments unique per person for that festival of the year."""
    req = checked.request
    assert req.pay_date is not None
    kind = req.kind
    if not checked.dues:
        raise Conflict(
            "没有可发放的对象（无有效认定、未登记收款人或所在类别未定金额）(nobody to pay)",
            missing_payee=checked.missing_payee,
            not_covered=checked.not_covered,
        )
    if run is not None:
        await still_preparing(session, run.id)
    locked = await ledger_side.lock_lines(session, [checked.line.id])
    line = locked[checked.line.id]
    # Checked again under the line's lock: two clerks preparing the same festival at once cannot both pass.
    await _title_taken(session, req, exclude=run.id if run is not None else None)
    amount = sum(a for _, a, _ in checked.dues)
    room = (await ledger_side.line_figures(session, line)).available_fen
    if amount > room:
        raise Conflict(
            f"预算科目“{line.name}”可用 {yuan(room)}，本次{ONE_OFF_KINDS[kind]}需 {yuan(amount)}，"
            f"缺口 {yuan(amount - room)} (budget line lacks room)",
            line_id=line.id,
            available_fen=room,
            requested_fen=amount,
            shortfall_fen=amount - room,
        )
    user_id = principal.account_id if principal else None
    if run is None:
        run = AllowanceRun(month=checked.month, budget_id=line.budget_id, created_by=user_id, status="prepared")
        session.add(run)
    run.month, run.budget_id, run.kind, run.title = checked.month, line.budget_id, kind, req.title.strip()[:120]
    run.pay_date, run.line_id, run.status = req.pay_date, line.id, "prepared"
    await session.flush()
    # The table, not the entity: the ORM's bulk insert would fill the explicit NULL of ``live`` with its default.
    await session.execute(
        insert(cast(Table, AllowancePayment.__table__)),
        [
            {
                "run_id": run.id,
                "kind": kind,
                "person_key": person.key,
                "person_name": person.name[:80],
                "community_id": person.community_id,
                "month": checked.month,
                "amount_fen": amount_fen,
                "line_id": line.id,
                "category": person.category,
                "standard_id": None,
                "decision_id": person.decision_id,
                "payee_kind": person.payee_kind,
                "payee_name": person.payee_name[:120],
                "payee_id": person.payee_id,
                # One-off payments are unique per run, not per month (see AllowancePayment).
                "live": None,
                "reason": reason,
                "festival_key": festival_key,
                "festival_live": True if festival_key else None,
            }
            for person, amount_fen, reason in checked.dues
        ],
    )
    await ledger_side.commit(
        session,
        line,
        amount,
        kind="allowance",
        memo=f"{req.title.strip()} {line.name} 发放",
        user_id=user_id,
        allowance_run_id=run.id,
    )
    run.paid_count = len(checked.dues)
    run.total_fen = amount
    rates: dict[int, int] = {}
    for _, a, _ in checked.dues:
        rates[a] = rates.get(a, 0) + 1
    standard = max(rates, key=lambda a: (rates[a], a))
    result = allowances.KindResult(kind, len(checked.dues), amount, standard, dict(sorted(rates.items())))
    return allowances.RunResult(run.id, checked.month, line.budget_id, [result], 0, checked.missing_payee, run.status)


async def prepare(session: AsyncSession, principal: Principal, req: OneOffRequest) -> allowances.RunResult:
    """Prepare a festival or special run at once (the API's synchronous path)."""
    return await write(session, principal, await check(session, principal, req))


# ---------------------------------------------------------------- choosing payees


@dataclass(frozen=True)
class Candidate:
    child_id: int
    name: str
    category: str
    community_id: int | None
    has_payee: bool


async def candidates(session: AsyncSession, principal: Principal, month: str) -> list[Candidate]:
    """The children a special payment may go to in ``month`` (a grant in force): names, so the read is audited."""
    require_write(principal)
    allowances.month_start(month)
    people = await allowances.eligible_children(session, month)
    out = [
        Candidate(int(p.key.split(":")[1]), p.name, p.category, p.community_id, p.payee_id is not None) for p in people
    ]
    await audit.record_read(session, principal, "read", "child", [c.child_id for c in out], ["allowance_eligibility"])
    return out


async def lines_for(session: AsyncSession, principal: Principal, year: int) -> list[BudgetLine]:
    """The budget lines of ``year``'s budgets a one-off run may charge."""
    require_read(principal, budget=True)
    rows = await session.scalars(
        select(BudgetLine)
        .join(Budget, Budget.id == BudgetLine.budget_id)
        .where(Budget.fiscal_year == year)
        .order_by(BudgetLine.budget_id, BudgetLine.id)
    )
    return list(rows.all())


async def still_preparing(session: AsyncSession, run_id: int) -> None:
    """Lock a queued run and make sure nobody prepared it meanwhile (a task delivered twice): else 409."""
    status = await session.scalar(select(AllowanceRun.status).where(AllowanceRun.id == run_id).with_for_update())
    if status != "preparing":
        raise Conflict(f"批次 {run_id} 已不在编制中 (the run is no longer being prepared)", current_status=status)


def kind_label(kind: str) -> str:
    return RUN_KINDS.get(kind, kind)


def payment_kind_label(kind: str) -> str:
    return allowances.PAYMENT_KINDS.get(kind, kind)


def run_title(run: AllowanceRun) -> str:
    """How a run is named on screen: its title, or the month for a monthly run."""
    return run.title or f"{run.month} 月度补贴"


def ensure_found(run: AllowanceRun | None, run_id: int) -> AllowanceRun:
    if run is None:
        raise NotFound(f"补贴发放批次 {run_id} 不存在 (allowance run not found)")
    return run
