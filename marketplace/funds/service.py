"""The fund's rules: balances per purpose, disbursements, purpose changes, and what matching may draw on."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from marketplace import clock, outbox
from marketplace.auth.principal import Principal
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.funds import accounts, ledger, purposes
from marketplace.funds.accounts import UNRESTRICTED
from marketplace.funds.models import Disbursement, Fund, FundProject, JournalEntry, LedgerAccount, Posting
from marketplace.funds.taxonomy import PROJECT_HOLDING
from marketplace.geography.service import existing_street_ids
from marketplace.pagination import fetch_page
from marketplace.resources.models import Service

WRITERS = frozenset({"fund_manager"})
READERS = frozenset({"fund_manager", "district_admin", "auditor"})
PUBLIC_WELFARE_CODE = "futian_public_welfare"


def require_reader(principal: Principal) -> None:
    if principal.role not in READERS:
        raise Forbidden("仅基金管理员、区民政和审计可查看基金 (fund data is for the fund manager, district, auditor)")


def require_writer(principal: Principal) -> None:
    if principal.role not in WRITERS:
        raise Forbidden("仅基金管理员可操作基金 (only the fund manager may change the fund)")


@dataclass(frozen=True)
class FundingOption:
    """Money a child's plan could draw on: a restricted purpose that fits, or the unrestricted balance."""

    fund_id: int
    fund_name: str
    purpose: str
    available_fen: int
    fund_kind: str = "public_welfare"
    street_id: int | None = None
    project_title: str = ""  # a micro-project's (民生微实事项目) title, for its held money

    @property
    def restricted(self) -> bool:
        return self.purpose != UNRESTRICTED


@dataclass
class FundBalances:
    fund: Fund
    balance_fen: int  # cash + in kind
    cash_fen: int
    in_kind_fen: int
    fees_fen: int
    income_fen: int
    spent_fen: int
    restricted_fen: int  # what restricted purposes have left
    unrestricted_fen: int
    purposes: dict[str, dict[str, int]]


async def get_fund(session: AsyncSession, fund_id: int, *, lock: bool = False) -> Fund:
    stmt = select(Fund).where(Fund.id == fund_id)
    if lock:
        # Every spend or refund of a fund takes this row lock on PostgreSQL, so two disbursements
        # can never both pass the balance check (SQLite serializes writers anyway).
        stmt = stmt.with_for_update()
    fund = await session.scalar(stmt)
    if fund is None:
        raise NotFound(f"基金 {fund_id} 不存在 (fund not found)")
    return fund


async def ensure_fund(session: AsyncSession, *, code: str, name: str, kind: str = "public_welfare") -> Fund:
    fund = await session.scalar(select(Fund).where(Fund.code == code))
    if fund is None:
        fund = Fund(code=code, name=name, kind=kind, public=True)
        session.add(fund)
        await session.flush()
    return fund


async def create_fund(
    session: AsyncSession, principal: Principal, *, code: str, name: str, kind: str, description: str, public: bool
) -> Fund:
    require_writer(principal)
    if await session.scalar(select(Fund.id).where(Fund.code == code)) is not None:
        raise Conflict(f"基金代码 {code} 已存在 (fund code taken)")
    fund = Fund(code=code, name=name.strip(), kind=kind, description=description, public=public)
    session.add(fund)
    await session.flush()
    return fund


async def list_funds(session: AsyncSession, principal: Principal) -> list[Fund]:
    require_reader(principal)
    return list((await session.scalars(select(Fund).order_by(Fund.id))).all())


async def fund_balances(session: AsyncSession, fund: Fund) -> FundBalances:
    return _balances(fund, await ledger.balances(session, accounts.prefix(fund.id)))


async def funds_balances(session: AsyncSession, funds: Sequence[Fund]) -> list[FundBalances]:
    """Balances of many funds from one read of the ledger's fund accounts (the fund list)."""
    if not funds:
        return []
    rows = await ledger.balances(session, "fund:")
    mine: dict[str, dict[str, int]] = {accounts.prefix(f.id): {} for f in funds}
    for code, amount in rows.items():
        parts = code.split(":", 2)
        head = f"fund:{parts[1]}:" if len(parts) == 3 else ""
        if head in mine:
            mine[head][code] = amount
    return [_balances(f, mine[accounts.prefix(f.id)]) for f in funds]


async def list_fund_balances(session: AsyncSession, principal: Principal) -> list[FundBalances]:
    return await funds_balances(session, await list_funds(session, principal))


def _balances(fund: Fund, rows: dict[str, int]) -> FundBalances:
    purposes = accounts.split_balances(fund.id, rows)
    cash = rows.get(accounts.cash(fund.id), 0)
    kind = rows.get(accounts.in_kind(fund.id), 0)
    return FundBalances(
        fund=fund,
        balance_fen=cash + kind,
        cash_fen=cash,
        in_kind_fen=kind,
        fees_fen=rows.get(accounts.fees(fund.id), 0),
        income_fen=sum(p["income_fen"] for p in purposes.values()),
        spent_fen=sum(p["spent_fen"] for p in purposes.values()),
        restricted_fen=sum(p["available_fen"] for k, p in purposes.items() if k != UNRESTRICTED),
        unrestricted_fen=purposes.get(UNRESTRICTED, {}).get("available_fen", 0),
        purposes=purposes,
    )


async def read_fund(session: AsyncSession, principal: Principal, fund_id: int) -> FundBalances:
    require_reader(principal)
    return await fund_balances(session, await get_fund(session, fund_id))


async def purpose_available(session: AsyncSession, fund_id: int, purpose: str) -> int:
    rows = await ledger.balances(session, accounts.prefix(fund_id))
    return accounts.split_balances(fund_id, rows).get(purpose, {}).get("available_fen", 0)


async def funding_available(
    session: AsyncSession,
    *,
    category: str | None,
    street_id: int | None,
    service_id: int | None,
    child_categories: Sequence[str] = (),
) -> list[FundingOption]:
    """What the funds could pay for a need: matching restricted purposes first (most specific first), then
    the unrestricted balance. Only purposes with money left appear. Used by matching for the plan's
    "charity resource"; no principal, because it reveals only amounts, never donors. Each purpose offered is one
    ``funds.purposes`` lets pay a referral of this need (category: the need's; street: the child's; group: the
    child's categories) to this service.

    A street's own funds (its foundation, its micro-project fund) are offered only for a child of that street, and
    a micro-project fund only through its approved projects (立项 or 实施) buying the need's category, for what
    each holds unspent: its unallocated money is spent by declaring and approving a project, never directly."""
    wanted: list[str] = []
    if service_id is not None:
        wanted.append(f"service:{service_id}")
    if category is not None:
        wanted.append(f"category:{category}")
    if street_id is not None:
        wanted.append(f"street:{street_id}")
    wanted += [f"group:{c}" for c in sorted(set(child_categories))]
    wanted.append(UNRESTRICTED)
    options: list[FundingOption] = []
    mine = Fund.street_id.is_(None) if street_id is None else or_(Fund.street_id.is_(None), Fund.street_id == street_id)
    every_fund = (await session.scalars(select(Fund).where(mine).order_by(Fund.id))).all()
    for b in await funds_balances(session, [f for f in every_fund if f.kind != "micro_project"]):
        for purpose in wanted:
            left = b.purposes.get(purpose, {}).get("available_fen", 0)
            if left > 0:
                options.append(FundingOption(b.fund.id, b.fund.name, purpose, left, b.fund.kind, b.fund.street_id))
    order = {p: i for i, p in enumerate(wanted)}
    options.sort(key=lambda o: (order[o.purpose], -o.available_fen, o.fund_id))
    if street_id is not None and category is not None:
        options += await _project_options(session, street_id=street_id, category=category)
    return options


async def _project_options(session: AsyncSession, *, street_id: int, category: str) -> list[FundingOption]:
    """The street's approved micro-projects buying this category, each with what it holds unspent."""
    rows = (
        await session.execute(
            select(FundProject.id, FundProject.title, Fund.id, Fund.name)
            .join(Fund, Fund.id == FundProject.fund_id)
            .where(
                Fund.kind == "micro_project",
                Fund.street_id == street_id,
                FundProject.category == category,
                FundProject.status.in_(sorted(PROJECT_HOLDING)),
            )
            .order_by(FundProject.id)
        )
    ).all()
    out = []
    for project_id, title, fund_id, fund_name in rows:
        left = await purpose_available(session, fund_id, f"project:{project_id}")
        if left > 0:
            out.append(
                FundingOption(fund_id, fund_name, f"project:{project_id}", left, "micro_project", street_id, title)
            )
    out.sort(key=lambda o: (-o.available_fen, o.purpose))
    return out


async def _check_purpose_target(session: AsyncSession, purpose: str) -> None:
    kind, value = accounts.parse_purpose(purpose)
    if kind == "project":
        # A micro-project's purpose is made by its approval (立项) and paid by its acceptance (验收) only: no gift,
        # purpose change or ordinary disbursement names it.
        raise Invalid.field(
            "purpose", "民生微实事项目资金只能经立项占用、验收支付 (a micro-project's money moves only by its steps)"
        )
    if kind == "street" and isinstance(value, int) and not await existing_street_ids(session, [value]):
        raise Invalid.field("purpose", f"街道 {value} 不存在 (unknown street)")
    if kind == "service" and isinstance(value, int) and await session.get(Service, value) is None:
        raise Invalid.field("purpose", f"服务项目 {value} 不存在 (unknown service)")


async def purpose_label_of(session: AsyncSession, purpose: str) -> str:
    return (await purposes.labels(session, [purpose]))[purpose]


async def disburse(
    session: AsyncSession,
    principal: Principal,
    fund_id: int,
    *,
    amount_fen: int,
    purpose: str,
    service_id: int | None = None,
    referral_id: int | None = None,
    memo: str = "",
    paid_on: dt.date | None = None,
) -> Disbursement:
    """Pay out of one purpose: the purpose must have the money (restricted gifts are spent only as given) and must
    match what it pays (``funds.purposes``: a service or a referral the purpose allows)."""
    require_writer(principal)
    if amount_fen <= 0:
        raise Invalid.field("amount_fen", "金额须大于 0 (amount must be positive)")
    await _check_purpose_target(session, purpose)
    payee = await purposes.payee(session, service_id=service_id, referral_id=referral_id)
    fund = await get_fund(session, fund_id, lock=True)
    left = await purpose_available(session, fund.id, purpose)
    label = await purpose_label_of(session, purpose)
    if amount_fen > left:
        raise Conflict(
            f"用途“{label}”余额 {left} 分，不足支付 {amount_fen} 分 "
            f"(purpose has {left} fen left, {amount_fen} requested)",
            available_fen=left,
        )
    await purposes.check(session, purpose, payee)
    if payee is not None:
        service_id = payee.service_id
    day = paid_on or clock.today()
    row = Disbursement(
        fund_id=fund.id,
        amount_fen=amount_fen,
        purpose=purpose,
        service_id=service_id,
        referral_id=referral_id,
        memo=memo,
        paid_on=day,
        created_by=principal.user_id,
    )
    session.add(row)
    await session.flush()
    # The disbursement row is the real-world event the entry records: its id is the key.
    entry = await ledger.post_entry(
        session,
        idempotency_key=f"disbursement:{row.id}",
        memo=f"拨付 {label} {memo}".strip(),
        postings=[(accounts.spend(fund.id, purpose), amount_fen), (accounts.cash(fund.id), -amount_fen)],
        occurred_on=day,
        source="disbursement",
    )
    row.entry_id = entry.id
    await session.flush()
    outbox.emit(session, "funds.disbursed", {"disbursement_id": row.id, "fund_id": fund.id})
    return row


async def cancel_disbursement(
    session: AsyncSession, principal: Principal, disbursement_id: int, reason: str, *, fund_id: int | None = None
) -> Disbursement:
    """A disbursement paid in error is corrected by reversing its entry, never by deleting it."""
    require_writer(principal)
    row = await session.scalar(
        select(Disbursement)
        .where(Disbursement.id == disbursement_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if row is None or (fund_id is not None and row.fund_id != fund_id):
        raise NotFound(f"拨付 {disbursement_id} 不存在 (disbursement not found)")
    if row.status != "paid":
        raise Conflict("该拨付已冲销 (disbursement already reversed)")
    if row.purpose.startswith("project:"):
        # A micro-project's payment closes its acceptance (验收): its money would go back to a project that is over.
        raise Conflict("民生微实事项目的验收拨付不能冲销 (a micro-project's payment on acceptance is not reversed)")
    await get_fund(session, row.fund_id, lock=True)
    if row.entry_id is not None:
        await ledger.reverse_entry(session, row.entry_id, reason=reason)
    row.status = "reversed"
    await session.flush()
    return row


async def list_disbursements(
    session: AsyncSession, principal: Principal, fund_id: int, *, limit: int, offset: int
) -> tuple[list[Disbursement], int]:
    require_reader(principal)
    await get_fund(session, fund_id)
    stmt = select(Disbursement).where(Disbursement.fund_id == fund_id)
    return await fetch_page(session, stmt, Disbursement.id.desc(), limit=limit, offset=offset)


async def fund_ledger(
    session: AsyncSession, principal: Principal, fund_id: int, *, limit: int, offset: int
) -> tuple[list[JournalEntry], int]:
    """The fund's journal: every entry touching one of its accounts, newest first."""
    require_reader(principal)
    await get_fund(session, fund_id)
    touching = (
        select(Posting.entry_id)
        .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
        .where(LedgerAccount.code.startswith(accounts.prefix(fund_id), autoescape=True))
        .distinct()
    )
    total = await session.scalar(select(func.count()).select_from(touching.subquery())) or 0
    rows = await session.scalars(
        select(JournalEntry)
        .where(JournalEntry.id.in_(touching.scalar_subquery()))
        .options(selectinload(JournalEntry.postings).selectinload(Posting.account))
        .order_by(JournalEntry.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows.all()), total


def entry_dict(entry: JournalEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "idempotency_key": entry.idempotency_key,
        "memo": entry.memo,
        "source": entry.source,
        "occurred_on": entry.occurred_on,
        "reverses_id": entry.reverses_id,
        "postings": [{"account": p.account.code, "amount_fen": p.amount_fen} for p in entry.postings],
    }
