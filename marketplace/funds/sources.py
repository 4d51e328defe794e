"""Charity resources beyond the public-welfare fund: street foundations (街道基金会) and micro-project funds
(民生微实事), each a fund of its street with its own books in the one ledger.

- A **street foundation** takes gifts like the public-welfare fund (``funds.donations`` with its ``fund_id``) and
  pays disbursements (``funds.service.disburse``).
- A **micro-project fund** is one street's 民生微实事 money for one year. The district's allocation is recorded as
  income (``allocate``: cash against the fund's unrestricted purpose, one entry per allocation key, so a repeat
  is the same entry). Its projects (民生微实事项目) go 申报 → 立项 → 实施 → 验收. Approving one (立项) holds its
  amount: the entry moves it from the fund's unrestricted purpose to the project's own purpose ``project:<id>``,
  under the fund's row lock and only while the unrestricted purpose has it, so the holds never exceed the money.
  Acceptance (验收) pays it as a disbursement from the project's purpose; what was not spent goes back.

A fund's available balance is therefore what its books say: cash, less what restricted purposes and held projects
keep (``unrestricted_fen``), never a figure kept beside them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock, outbox
from marketplace.auth.principal import Principal
from marketplace.cases import notifications
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.funds import accounts, ledger
from marketplace.funds.accounts import UNRESTRICTED
from marketplace.funds.models import Disbursement, Fund, FundProject, JournalEntry, LedgerAccount, Posting
from marketplace.funds.service import READERS, get_fund, purpose_available
from marketplace.funds.taxonomy import FUND_KINDS, PROJECT_STATUSES, STREET_KINDS
from marketplace.geography.models import Community, Street
from marketplace.pagination import fetch_page
from marketplace.resources.taxonomy import SERVICE_CATEGORIES
from marketplace.statemachine import StateMachine, Transition

# Who sets up and feeds the charity resources: the fund manager and the district (民政局) that allocates them.
SOURCE_WRITERS = frozenset({"fund_manager", "district_admin"})
# A street's supervisor reads the balances of the street's own funds, to plan with them.
STREET_READERS = frozenset({"child_supervisor"})

PROJECT_LIFECYCLE = StateMachine(
    "fund_project",
    PROJECT_STATUSES,
    [
        Transition("approve", frozenset({"declared"}), "approved", "立项"),
        Transition("reject", frozenset({"declared"}), "rejected", "不予立项"),
        Transition("start", frozenset({"approved"}), "in_progress", "开始实施"),
        Transition("complete", frozenset({"approved", "in_progress"}), "accepted", "验收"),
    ],
)


def require_source_writer(principal: Principal) -> None:
    if principal.role not in SOURCE_WRITERS:
        raise Forbidden("仅基金管理员和区民政可管理慈善资金来源 (only the fund manager or the district may do this)")


def _may_read(principal: Principal, fund: Fund) -> bool:
    if principal.role in READERS:
        return True
    return principal.role in STREET_READERS and fund.street_id is not None and fund.street_id == principal.street_id


def require_list_reader(principal: Principal) -> None:
    if principal.role not in READERS | STREET_READERS:
        raise Forbidden("无权查看基金 (fund data is not for this role)")


async def readable_fund(session: AsyncSession, principal: Principal, fund_id: int, *, lock: bool = False) -> Fund:
    """The fund, for a caller who may read it; another street's fund is not found for a supervisor."""
    require_list_reader(principal)
    fund = await get_fund(session, fund_id, lock=lock)
    if not _may_read(principal, fund):
        raise NotFound(f"基金 {fund_id} 不存在 (fund not found)")
    return fund


def _check_kind(kind: str | None) -> None:
    if kind is not None and kind not in FUND_KINDS:
        raise Invalid.field("kind", f"未知基金类型 {kind} (unknown fund kind)")


async def list_sources(
    session: AsyncSession, principal: Principal, *, kind: str | None = None, street_id: int | None = None
) -> list[Fund]:
    """Every fund the caller may read, by kind and street (a supervisor: the own street's funds only)."""
    require_list_reader(principal)
    _check_kind(kind)
    stmt = select(Fund)
    if principal.role not in READERS:
        stmt = stmt.where(Fund.street_id == principal.street_id)
    if kind is not None:
        stmt = stmt.where(Fund.kind == kind)
    if street_id is not None:
        stmt = stmt.where(Fund.street_id == street_id)
    return list((await session.scalars(stmt.order_by(Fund.street_id.is_not(None), Fund.street_id, Fund.id))).all())


async def street_names(session: AsyncSession, ids: set[int | None]) -> dict[int, str]:
    wanted = sorted(i for i in ids if i is not None)
    rows = await session.execute(select(Street.id, Street.name).where(Street.id.in_(wanted)))
    return {int(i): str(n) for i, n in rows.all()}


async def create_source(
    session: AsyncSession,
    principal: Principal,
    *,
    code: str,
    name: str,
    kind: str,
    street_id: int | None,
    year: int | None,
    description: str = "",
    public: bool = True,
) -> Fund:
    """Set up a fund: a street foundation or micro-project fund names its street (a micro-project fund its year
    too; one per street and year); other kinds are district-wide."""
    require_source_writer(principal)
    _check_kind(kind)
    if not name.strip():
        raise Invalid.field("name", "请填写基金名称 (a name is required)")
    if kind in STREET_KINDS:
        if street_id is None:
            raise Invalid.field("street_id", f"{FUND_KINDS[kind]}须属于一个街道 (a street is required)")
        if await session.get(Street, street_id) is None:
            raise Invalid.field("street_id", f"街道 {street_id} 不存在 (unknown street)")
    elif street_id is not None:
        raise Invalid.field(
            "street_id", f"{FUND_KINDS[kind]}为全区资金，不属于街道 (a district-wide fund has no street)"
        )
    if kind == "micro_project":
        if year is None:
            raise Invalid.field("year", "民生微实事资金须填写年度 (a micro-project fund needs its year)")
        taken = await session.scalar(
            select(Fund.id).where(Fund.kind == kind, Fund.street_id == street_id, Fund.year == year)
        )
        if taken is not None:
            raise Conflict(
                f"该街道 {year} 年度的民生微实事资金已设立 (this street's micro-project fund for the year exists)",
                fund_id=taken,
            )
    elif year is not None:
        raise Invalid.field("year", "只有民生微实事资金按年度设立 (only a micro-project fund has a year)")
    if await session.scalar(select(Fund.id).where(Fund.code == code)) is not None:
        raise Conflict(f"基金代码 {code} 已存在 (fund code taken)")
    fund = Fund(
        code=code,
        name=name.strip(),
        kind=kind,
        description=description,
        public=public,
        street_id=street_id,
        year=year,
    )
    session.add(fund)
    await session.flush()
    return fund


# ---------------------------------------------------------------------------------------------- allocations


@dataclass(frozen=True)
class Allocation:
    entry_id: int
    key: str
    amount_fen: int
    occurred_on: dt.date
    memo: str


ALLOCATION_SOURCE = "allocation"


def _allocation_key(fund_id: int, key: str) -> str:
    return f"allocation:{fund_id}:{key}"


async def allocate(
    session: AsyncSession,
    principal: Principal,
    fund_id: int,
    *,
    amount_fen: int,
    key: str,
    received_on: dt.date | None = None,
    memo: str = "",
) -> Allocation:
    """The district's allocation to a street's micro-project fund, as income: one balanced entry per key (the
    allocation document's number), so recording it twice counts it once; the same key for another amount is a
    409."""
    require_source_writer(principal)
    if amount_fen <= 0:
        raise Invalid.field("amount_fen", "金额须大于 0 (amount must be positive)")
    if not key.strip():
        raise Invalid.field("key", "请填写拨款文号 (the allocation's reference is required)")
    fund = await get_fund(session, fund_id, lock=True)
    if fund.kind != "micro_project":
        raise Invalid.field("fund_id", "只有民生微实事资金接收区级下达 (only a micro-project fund takes allocations)")
    day = received_on or clock.today()
    entry = await ledger.post_entry(
        session,
        idempotency_key=_allocation_key(fund.id, key.strip()),
        memo=(f"区级下达民生微实事资金 {key.strip()} {memo}".strip())[:500],
        postings=[(accounts.cash(fund.id), amount_fen), (accounts.income(fund.id, UNRESTRICTED), -amount_fen)],
        occurred_on=day,
        source=ALLOCATION_SOURCE,
    )
    return _allocation(fund.id, entry)


def _allocation(fund_id: int, entry: JournalEntry) -> Allocation:
    cash = accounts.cash(fund_id)
    amount = sum(p.amount_fen for p in entry.postings if p.account.code == cash)
    return Allocation(
        entry_id=entry.id,
        key=entry.idempotency_key.removeprefix(f"allocation:{fund_id}:"),
        amount_fen=amount,
        occurred_on=entry.occurred_on,
        memo=entry.memo,
    )


async def list_allocations(session: AsyncSession, principal: Principal, fund_id: int) -> list[Allocation]:
    fund = await readable_fund(session, principal, fund_id)
    entries = await session.scalars(
        select(JournalEntry)
        .where(JournalEntry.idempotency_key.startswith(f"allocation:{fund.id}:", autoescape=True))
        .order_by(JournalEntry.occurred_on.desc(), JournalEntry.id.desc())
    )
    ids = [e.id for e in entries.all()]
    if not ids:
        return []
    out = []
    for entry_id in ids:
        out.append(_allocation(fund.id, await ledger.get_entry(session, entry_id)))
    return out


async def allocated_total(session: AsyncSession, fund_id: int) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(Posting.amount_fen), 0))
        .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(LedgerAccount.code == accounts.cash(fund_id), JournalEntry.source == ALLOCATION_SOURCE)
    )
    return int(total or 0)


# ---------------------------------------------------------------------------------------------- projects


def project_purpose(project_id: int) -> str:
    return f"project:{project_id}"


async def get_project(session: AsyncSession, project_id: int, *, lock: bool = False) -> FundProject:
    stmt = select(FundProject).where(FundProject.id == project_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    row = await session.scalar(stmt)
    if row is None:
        raise NotFound(f"项目 {project_id} 不存在 (project not found)")
    return row


async def read_project(session: AsyncSession, principal: Principal, project_id: int) -> FundProject:
    row = await get_project(session, project_id)
    try:
        await readable_fund(session, principal, row.fund_id)
    except NotFound:
        raise NotFound(f"项目 {project_id} 不存在 (project not found)") from None
    return row


async def create_project(
    session: AsyncSession,
    principal: Principal,
    fund_id: int,
    *,
    title: str,
    category: str,
    requested_fen: int,
    community_id: int | None = None,
    description: str = "",
) -> FundProject:
    """A community's declaration (申报) of a children's project on its street's micro-project fund."""
    require_source_writer(principal)
    fund = await get_fund(session, fund_id)
    if fund.kind != "micro_project":
        raise Invalid.field("fund_id", "只有民生微实事资金有项目 (only a micro-project fund has projects)")
    errors = []
    if not title.strip():
        errors.append({"field": "title", "message": "请填写项目名称 (a title is required)"})
    if category not in SERVICE_CATEGORIES:
        errors.append({"field": "category", "message": f"未知服务类别 {category} (unknown service category)"})
    if requested_fen <= 0:
        errors.append({"field": "requested_fen", "message": "申报金额须大于 0 (the amount must be positive)"})
    if community_id is not None:
        street = await session.scalar(select(Community.street_id).where(Community.id == community_id))
        if street is None:
            errors.append({"field": "community_id", "message": f"社区 {community_id} 不存在 (unknown community)"})
        elif street != fund.street_id:
            errors.append(
                {"field": "community_id", "message": "社区不在该基金所属街道 (the community is in another street)"}
            )
    if errors:
        raise Invalid(errors[0]["message"], errors=errors)
    row = FundProject(
        fund_id=fund.id,
        community_id=community_id,
        title=title.strip(),
        category=category,
        requested_fen=requested_fen,
        status="declared",
        description=description,
        created_by=principal.account_id,
    )
    session.add(row)
    await session.flush()
    return row


async def list_projects(
    session: AsyncSession,
    principal: Principal,
    fund_id: int,
    *,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[FundProject], int]:
    await readable_fund(session, principal, fund_id)
    if status is not None and status not in PROJECT_STATUSES:
        raise Invalid.field("status", f"未知项目状态 {status} (unknown project status)")
    stmt: Select[FundProject] = select(FundProject).where(FundProject.fund_id == fund_id)
    if status is not None:
        stmt = stmt.where(FundProject.status == status)
    return await fetch_page(session, stmt, FundProject.id.desc(), limit=limit, offset=offset)


async def _locked(session: AsyncSession, principal: Principal, project_id: int) -> tuple[FundProject, Fund]:
    require_source_writer(principal)
    project = await get_project(session, project_id)
    # The fund's row lock first (as every spend of the fund takes it), then the project's.
    fund = await get_fund(session, project.fund_id, lock=True)
    return await get_project(session, project_id, lock=True), fund


async def approve_project(
    session: AsyncSession,
    principal: Principal,
    project_id: int,
    *,
    approved_fen: int | None = None,
    on: dt.date | None = None,
) -> FundProject:
    """立项: hold the approved amount on the fund. Under the fund's row lock the unrestricted money is read and
    the hold posted, so two approvals at once on the last money cannot both pass (SQLite serialises writers)."""
    project, fund = await _locked(session, principal, project_id)
    target = PROJECT_LIFECYCLE.target(project.status, "approve")
    amount = project.requested_fen if approved_fen is None else approved_fen
    if amount <= 0 or amount > project.requested_fen:
        raise Invalid.field(
            "approved_fen", "立项金额须大于 0 且不超过申报金额 (the approved amount is 1..the requested amount)"
        )
    left = await purpose_available(session, fund.id, UNRESTRICTED)
    if amount > left:
        raise Conflict(
            f"{fund.name}可用余额 {left / 100:,.2f} 元，不足立项 {amount / 100:,.2f} 元 "
            f"(the fund has {left} fen available, {amount} fen asked)",
            available_fen=left,
        )
    day = on or clock.today()
    await ledger.post_entry(
        session,
        idempotency_key=f"project:{project.id}:hold",
        memo=f"民生微实事项目立项：{project.title}"[:500],
        postings=[
            (accounts.income(fund.id, UNRESTRICTED), amount),
            (accounts.income(fund.id, project_purpose(project.id)), -amount),
        ],
        occurred_on=day,
        source="project_hold",
    )
    project.status = target
    project.approved_fen = amount
    project.approved_on = day
    await session.flush()
    if fund.street_id is not None:
        # The street's supervisors plan with this money: matching now offers it for the project's category.
        category = SERVICE_CATEGORIES.get(project.category, project.category)
        await notifications.notify(
            session,
            await notifications.street_supervisors(session, fund.street_id),
            key=f"funds_project_approved:{project.id}",
            kind="funds_project_approved",
            title=f"民生微实事项目立项：{project.title}"[:200],
            body=f"{fund.name}为“{project.title}”（{category}）立项 {amount / 100:,.2f} 元；"
            "本街道儿童该类需求的匹配方案可使用这笔资金。",
            entity="fund",
            entity_id=fund.id,
            data={"fund_id": fund.id, "project_id": project.id, "approved_fen": amount},
        )
    return project


async def reject_project(session: AsyncSession, principal: Principal, project_id: int) -> FundProject:
    project, _ = await _locked(session, principal, project_id)
    project.status = PROJECT_LIFECYCLE.target(project.status, "reject")
    await session.flush()
    return project


async def start_project(
    session: AsyncSession, principal: Principal, project_id: int, *, on: dt.date | None = None
) -> FundProject:
    project, _ = await _locked(session, principal, project_id)
    project.status = PROJECT_LIFECYCLE.target(project.status, "start")
    project.started_on = on or clock.today()
    await session.flush()
    return project


async def complete_project(
    session: AsyncSession,
    principal: Principal,
    project_id: int,
    *,
    paid_fen: int | None = None,
    on: dt.date | None = None,
    memo: str = "",
) -> FundProject:
    """验收: pay the project from its held money as a disbursement (at most what was approved); what it did not
    spend goes back to the fund's unrestricted purpose."""
    project, fund = await _locked(session, principal, project_id)
    target = PROJECT_LIFECYCLE.target(project.status, "complete")
    approved = project.approved_fen or 0
    amount = approved if paid_fen is None else paid_fen
    if amount <= 0 or amount > approved:
        raise Invalid.field("paid_fen", "验收支付金额须大于 0 且不超过立项金额 (paid amount is 1..the approved amount)")
    purpose = project_purpose(project.id)
    day = on or clock.today()
    row = Disbursement(
        fund_id=fund.id,
        amount_fen=amount,
        purpose=purpose,
        memo=(memo or f"民生微实事项目验收：{project.title}")[:500],
        paid_on=day,
        created_by=principal.account_id,
    )
    session.add(row)
    await session.flush()
    entry = await ledger.post_entry(
        session,
        idempotency_key=f"disbursement:{row.id}",
        memo=f"民生微实事项目验收支付：{project.title}"[:500],
        postings=[(accounts.spend(fund.id, purpose), amount), (accounts.cash(fund.id), -amount)],
        occurred_on=day,
        source="disbursement",
    )
    row.entry_id = entry.id
    if amount < approved:
        rest = approved - amount
        await ledger.post_entry(
            session,
            idempotency_key=f"project:{project.id}:release",
            memo=f"民生微实事项目结余退回：{project.title}"[:500],
            postings=[
                (accounts.income(fund.id, purpose), rest),
                (accounts.income(fund.id, UNRESTRICTED), -rest),
            ],
            occurred_on=day,
            source="project_release",
        )
    project.status = target
    project.paid_fen = amount
    project.completed_on = day
    project.disbursement_id = row.id
    await session.flush()
    outbox.emit(session, "funds.disbursed", {"disbursement_id": row.id, "fund_id": fund.id})
    return project


async def held_by_project(session: AsyncSession, projects: list[FundProject]) -> dict[int, int]:
    """What each project still holds on its fund (its purpose's money not yet paid), from the ledger."""
    out: dict[int, int] = {}
    for fund_id in sorted({p.fund_id for p in projects}):
        rows = await ledger.balances(session, accounts.prefix(fund_id))
        split = accounts.split_balances(fund_id, rows)
        for p in projects:
            if p.fund_id == fund_id:
                out[p.id] = split.get(project_purpose(p.id), {}).get("available_fen", 0)
    return out
