"""Monthly allowances paid from the special budget.

- Living allowance (基本生活补贴) for every child with an approved allowance decision in force for the month
  (marketplace.cases.eligibility: proposed by the director, reviewed by the supervisor, approved by the district
  with an effective month under the start rule; it ends with an approved cessation or the month after the 18th
  birthday). A child's category tags do not make it eligible. The ``district_budget`` grants are paid here.
- Child-director post subsidy (儿童主任岗位补贴) for every active child-director user, at the standard times the
  factor of their previous year's assessment (``procurement.ports.subsidy_factors``, filled by workforce): a
  director whose factor is 0 is not paid, and the run's result names them with the reason (``withheld``).

The amount is the rate (``allowance_standards``) in force on the first day of the month for the kind, the grant's
category and the region (``ALLOWANCE_REGION``), the most specific first: category and region, then region, then
category, then neither. Each child's payment names its payee (guardian or institution) and their encrypted bank
account (``allowance_payees``); a child without a payee is not paid until one is recorded (re-run the month).

A run is idempotent per person and month: ``allowance_payments`` is unique on (kind, person, month), and a run
pays only those not yet paid, so running a month again pays nobody twice and picks up people added since. A run
commits its amount on the budget line when it is prepared; the district then signs off its list of payees and
amounts (who, when, and the digests of the list and of the bank file), and it is paid once (the ledger's payment):
paying again, or before the sign-off, is refused (409). The bank file produced later must be the one signed.

Festival and special (one-off) runs are prepared by ``allowance_oneoff`` and share the sign-off, bank file, payment
and withdrawal here; ``allowance_jobs`` prepares any run in the background with its progress.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock, masking
from marketplace.audit import service as audit
from marketplace.auth.models import User
from marketplace.auth.principal import Principal
from marketplace.cases import eligibility
from marketplace.cases.crypto import FieldCipher
from marketplace.cases.models import AllowancePayee
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.procurement import budget as ledger_side
from marketplace.procurement import ports
from marketplace.procurement.allowance_schemas import StandardIn
from marketplace.procurement.models import (
    AllowancePayment,
    AllowanceRun,
    AllowanceSignOff,
    AllowanceStandard,
    Budget,
    BudgetLine,
)
from marketplace.procurement.rules import yuan
from marketplace.procurement.service import require_read, require_write
from marketplace.resources.taxonomy import CHILD_CATEGORIES
from marketplace.settings import Settings

KINDS: Final[dict[str, str]] = {"living_allowance": "困境儿童基本生活补贴", "director_subsidy": "儿童主任岗位补贴"}
# The payments of one-off runs (``allowance_oneoff``), counted by the quarter report beside the monthly kinds.
ONE_OFF_KINDS: Final[dict[str, str]] = {"festival": "节日慰问金", "special": "临时/专项补助"}
PAYMENT_KINDS: Final[dict[str, str]] = {**KINDS, **ONE_OFF_KINDS}
# Budget line codes that pay each kind, in order of preference (the demo budget says director_post_subsidy).
LINE_CODES: Final[dict[str, tuple[str, ...]]] = {
    "living_allowance": ("living_allowance",),
    "director_subsidy": ("director_subsidy", "director_post_subsidy"),
}
RUN_STATUSES: Final[dict[str, str]] = {
    "preparing": "编制中",
    "failed": "编制失败",
    "prepared": "待签批",
    "signed_off": "已签批待发放",
    "paid": "已发放",
    "withdrawn": "已撤销",
}
PAYEE_KINDS: Final[dict[str, str]] = {"guardian": "监护人", "institution": "机构", "director": "儿童主任本人"}
# Who signs a run off (the district) and who may fetch its bank file (the district and the procurement clerk).
SIGNERS: Final = frozenset({"district_admin"})
BANK_FILE_READERS: Final = frozenset({"district_admin", "procurement_officer"})
BANK_FILE_HEADER: Final = ("序号", "收款人户名", "收款账号", "开户银行", "金额(元)", "用途")


@dataclass(frozen=True)
class Person:
    key: str  # "child:12" | "user:7"
    name: str
    community_id: int | None
    category: str = ""
    decision_id: int | None = None
    payee_kind: str = ""
    payee_name: str = ""
    payee_id: int | None = None
    # A child's allowance goes to a bank account: without a payee row the child is left for a later run.
    requires_payee: bool = False
    # The share of the rate paid, in percent (the director subsidy's assessment factor), and why it is not 100.
    factor_pct: int = 100
    factor_reason: str = ""


EligibleSource = Callable[[AsyncSession, str], Awaitable[list[Person]]]


async def eligible_children(session: AsyncSession, month: str) -> list[Person]:
    """The children with a district-budget grant in force (marketplace.cases.eligibility.in_force), with payees."""
    grants = await eligibility.in_force(session, "living_allowance", month, source=eligibility.BUDGET_SOURCE)
    payees = await eligibility.current_payees(session, [g.child_id for g in grants])
    out = []
    for g in grants:
        payee = payees.get(g.child_id)
        out.append(
            Person(
                f"child:{g.child_id}",
                g.name,
                g.community_id,
                category=g.category,
                decision_id=g.decision_id,
                payee_kind=payee.kind if payee else "",
                payee_name=payee.name if payee else "",
                payee_id=payee.id if payee else None,
                requires_payee=True,
            )
        )
    return out


async def eligible_directors(session: AsyncSession, month: str) -> list[Person]:
    rows = await session.execute(
        select(User.id, User.display_name, User.community_id)
        .where(User.role == "child_director", User.is_active.is_(True))
        .order_by(User.id)
    )
    found = rows.all()
    factors = await ports.subsidy_factors(session, month_start(month).year, [int(uid) for uid, _, _ in found])
    full = ports.FULL
    return [
        Person(
            f"user:{uid}",
            name,
            community_id,
            payee_kind="director",
            payee_name=name,
            factor_pct=factors.get(uid, full).percent,
            factor_reason=factors.get(uid, full).reason,
        )
        for uid, name, community_id in found
    ]


SOURCES: Final[dict[str, EligibleSource]] = {
    "living_allowance": eligible_children,
    "director_subsidy": eligible_directors,
}


def month_start(month: str) -> dt.date:
    return eligibility.month_start(month)


# ---------------------------------------------------------------- rates


@dataclass(frozen=True)
class Rate:
    standard_id: int | None
    amount_fen: int


async def rate_for(session: AsyncSession, kind: str, month: str, *, category: str = "", region: str = "") -> Rate:
    """The rate in force on the month's first day: the most specific (category and region) first, then the
    latest. No rate: amount 0 (nobody is paid that kind)."""
    rows = await session.execute(
        select(AllowanceStandard.id, AllowanceStandard.category, AllowanceStandard.region, AllowanceStandard.amount_fen)
        .where(
            AllowanceStandard.kind == kind,
            AllowanceStandard.effective_from <= month_start(month),
            AllowanceStandard.category.in_({"", category}),
            AllowanceStandard.region.in_({"", region}),
        )
        .order_by(AllowanceStandard.effective_from.desc(), AllowanceStandard.id.desc())
    )
    best: tuple[tuple[bool, bool], Rate] | None = None
    for sid, cat, reg, amount in rows.all():
        rank = (cat != "", reg != "")
        # Most specific wins; among equally specific rates the latest (rows come latest first).
        if best is None or (rank[0], rank[1]) > best[0]:
            best = (rank, Rate(sid, int(amount)))
    return best[1] if best else Rate(None, 0)


async def standard_for(session: AsyncSession, kind: str, month: str) -> int:
    """The rate of ``kind`` for any category in any region (the director subsidy; older callers)."""
    return (await rate_for(session, kind, month)).amount_fen


async def list_standards(session: AsyncSession, principal: Principal) -> list[AllowanceStandard]:
    require_read(principal, budget=True)
    rows = await session.scalars(
        select(AllowanceStandard).order_by(
            AllowanceStandard.kind,
            AllowanceStandard.region,
            AllowanceStandard.category,
            AllowanceStandard.effective_from,
        )
    )
    return list(rows.all())


async def add_standard(session: AsyncSession, principal: Principal, data: StandardIn) -> AllowanceStandard:
    require_write(principal)
    if data.kind not in KINDS:
        raise Invalid.field("kind", "补贴类别须为 " + ", ".join(KINDS))
    if data.category and data.category not in CHILD_CATEGORIES:
        raise Invalid.field("category", f"未知儿童类别 '{data.category}' (unknown child category)")
    if data.category and data.kind != "living_allowance":
        raise Invalid.field("category", "只有生活补贴按儿童类别定标准 (only the living allowance has category rates)")
    clash = await session.scalar(
        select(AllowanceStandard.id).where(
            AllowanceStandard.kind == data.kind,
            AllowanceStandard.category == data.category,
            AllowanceStandard.region == data.region,
            AllowanceStandard.effective_from == data.effective_from,
        )
    )
    if clash is not None:
        raise Conflict("该类别、地区在该日期已有标准 (a standard already starts on that date)", existing_id=clash)
    row = AllowanceStandard(
        kind=data.kind,
        category=data.category,
        region=data.region,
        effective_from=data.effective_from,
        amount_fen=data.amount_fen,
        note=data.note,
    )
    session.add(row)
    await session.flush()
    return row


async def _budget_for(session: AsyncSession, month: str, budget_id: int | None) -> Budget:
    year = month_start(month).year
    if budget_id is not None:
        chosen = await session.get(Budget, budget_id)
        if chosen is None:
            raise NotFound(f"预算 {budget_id} 不存在 (budget not found)")
        if chosen.fiscal_year != year:
            raise Invalid.field("budget_id", f"预算财年 {chosen.fiscal_year} 与发放月份 {month} 不符")
        return chosen
    found = list((await session.scalars(select(Budget).where(Budget.fiscal_year == year).order_by(Budget.id))).all())
    if not found:
        raise Conflict(f"{year} 年尚无预算，不能发放补贴 (no budget for the year)")
    if len(found) > 1:
        raise Invalid.field("budget_id", f"{year} 年有多个预算，请指定 budget_id")
    return found[0]


# ---------------------------------------------------------------- the monthly run


@dataclass(frozen=True)
class KindResult:
    kind: str
    count: int
    total_fen: int
    standard_fen: int  # the rate most payments of the kind were made at (the highest count)
    rates: dict[int, int] = field(default_factory=dict)  # amount_fen → payments


@dataclass(frozen=True)
class RunResult:
    run_id: int | None
    month: str
    budget_id: int
    paid: list[KindResult]
    already_paid: int
    missing_payee: int = 0
    status: str = "prepared"
    # People eligible but not paid by their factor: {"kind", "person_key", "name", "reason"}.
    withheld: list[dict[str, str]] = field(default_factory=list)

    @property
    def paid_count(self) -> int:
        return sum(k.count for k in self.paid)

    @property
    def total_fen(self) -> int:
        return sum(k.total_fen for k in self.paid)


@dataclass(frozen=True)
class _Due:
    person: Person
    rate: Rate


def _kind_result(kind: str, dues: Sequence[_Due], fallback_fen: int) -> KindResult:
    rates: dict[int, int] = {}
    for d in dues:
        rates[d.rate.amount_fen] = rates.get(d.rate.amount_fen, 0) + 1
    standard = max(rates, key=lambda amount: (rates[amount], amount)) if rates else fallback_fen
    return KindResult(kind, len(dues), sum(d.rate.amount_fen for d in dues), standard, dict(sorted(rates.items())))


async def run_month(
    session: AsyncSession,
    principal: Principal | None,
    month: str,
    *,
    budget_id: int | None = None,
    region: str,
    sources: dict[str, EligibleSource] | None = None,
    run: AllowanceRun | None = None,
) -> RunResult:
    """Prepare the month's allowances for everyone eligible and not yet paid; all or nothing. The run's amount is
    committed on its budget lines; it is paid (``pay_run``) after the district's sign-off (``sign_off``).

    ``principal`` is None for the scheduled job. ``sources`` replaces who is eligible (tests, other registers).
    ``region`` picks the region's rates (``ALLOWANCE_REGION``). ``run`` is the row a background preparation
    made for it (``allowance_jobs``); it becomes the prepared run.
    """
    if principal is not None:
        require_write(principal)
    month_start(month)
    chosen = await _budget_for(session, month, budget_id)
    lines = list((await session.scalars(select(BudgetLine).where(BudgetLine.budget_id == chosen.id))).all())
    by_code = {line.code: line for line in lines}
    plan: dict[str, tuple[BudgetLine, int, list[_Due]]] = {}
    missing_payee = 0
    withheld: list[dict[str, str]] = []
    for kind, source in (sources or SOURCES).items():
        base_rate = await rate_for(session, kind, month, region=region)
        people = await source(session, month)
        rates: dict[str, Rate] = {}
        dues: list[_Due] = []
        for p in people:
            if p.category not in rates:
                rates[p.category] = await rate_for(session, kind, month, category=p.category, region=region)
            rate = rates[p.category]
            if rate.amount_fen <= 0:
                continue
            if p.requires_payee and p.payee_id is None:
                missing_payee += 1
                continue
            if p.factor_pct != 100:
                if p.factor_pct <= 0:
                    withheld.append({"kind": kind, "person_key": p.key, "name": p.name, "reason": p.factor_reason})
                    continue
                dues.append(_Due(p, Rate(rate.standard_id, (rate.amount_fen * p.factor_pct + 50) // 100)))
                continue
            dues.append(_Due(p, rate))
        if base_rate.amount_fen <= 0 and not dues:
            continue
        line = next((by_code[c] for c in LINE_CODES.get(kind, (kind,)) if c in by_code), None)
        if line is None:
            raise Conflict(f"预算“{chosen.name}”没有“{KINDS.get(kind, kind)}”科目 (no budget line for {kind})")
        plan[kind] = (line, base_rate.amount_fen, dues)
    if not plan:
        return RunResult(None, month, chosen.id, [], 0, missing_payee, withheld=withheld)
    # Lock first, then read who is already paid: a concurrent run of the same month waits here and then sees ours.
    locked = await ledger_side.lock_lines(session, [line.id for line, _, _ in plan.values()])
    already = 0
    to_pay: dict[str, list[_Due]] = {}
    for kind, (_, _, dues) in plan.items():
        paid_keys = set(
            (
                await session.scalars(
                    select(AllowancePayment.person_key).where(
                        AllowancePayment.kind == kind,
                        AllowancePayment.month == month,
                        AllowancePayment.live.is_(True),
                    )
                )
            ).all()
        )
        to_pay[kind] = [d for d in dues if d.person.key not in paid_keys]
        already += len(dues) - len(to_pay[kind])
    needed: dict[int, int] = {}
    for kind, (line, _, _) in plan.items():
        needed[line.id] = needed.get(line.id, 0) + sum(d.rate.amount_fen for d in to_pay[kind])
    for line_id, amount in needed.items():
        room = (await ledger_side.line_figures(session, locked[line_id])).available_fen
        if amount > room:
            raise Conflict(
                f"预算科目“{locked[line_id].name}”可用 {yuan(room)}，本月补贴需 {yuan(amount)} (budget line lacks room)",
                line_id=line_id,
                available_fen=room,
                requested_fen=amount,
            )
    if not any(to_pay.values()):
        return RunResult(
            None,
            month,
            chosen.id,
            [_kind_result(k, [], plan[k][1]) for k in plan],
            already,
            missing_payee,
            withheld=withheld,
        )
    user_id = principal.account_id if principal else None
    if run is None:
        run = AllowanceRun(month=month, budget_id=chosen.id, created_by=user_id, status="prepared")
        session.add(run)
    run.month, run.budget_id, run.status = month, chosen.id, "prepared"
    await session.flush()
    results = []
    for kind, (line, base, _) in plan.items():
        dues = to_pay[kind]
        if dues:
            await session.execute(
                insert(AllowancePayment),
                [
                    {
                        "run_id": run.id,
                        "kind": kind,
                        "person_key": d.person.key,
                        "person_name": d.person.name[:80],
                        "community_id": d.person.community_id,
                        "month": month,
                        "amount_fen": d.rate.amount_fen,
                        "line_id": line.id,
                        "category": d.person.category,
                        "standard_id": d.rate.standard_id,
                        "decision_id": d.person.decision_id,
                        "payee_kind": d.person.payee_kind,
                        "payee_name": d.person.payee_name[:120],
                        "payee_id": d.person.payee_id,
                    }
                    for d in dues
                ],
            )
        results.append(_kind_result(kind, dues, base))
    for line_id, amount in needed.items():
        if amount <= 0:
            continue
        line = locked[line_id]
        await ledger_side.commit(
            session,
            line,
            amount,
            kind="allowance",
            memo=f"{month} {line.name} 发放",
            user_id=user_id,
            allowance_run_id=run.id,
        )
    run.paid_count = sum(r.count for r in results)
    run.total_fen = sum(r.total_fen for r in results)
    return RunResult(run.id, month, chosen.id, results, already, missing_payee, run.status, withheld)


# ---------------------------------------------------------------- sign-off, bank file, payment


async def _run(session: AsyncSession, run_id: int, *, lock: bool = False) -> AllowanceRun:
    stmt = select(AllowanceRun).where(AllowanceRun.id == run_id)
    if lock:
        stmt = stmt.with_for_update()
    run = await session.scalar(stmt)
    if run is None:
        raise NotFound(f"补贴发放批次 {run_id} 不存在 (allowance run not found)")
    return run


async def run_payments(session: AsyncSession, run_id: int) -> list[AllowancePayment]:
    rows = await session.scalars(
        select(AllowancePayment).where(AllowancePayment.run_id == run_id).order_by(AllowancePayment.id)
    )
    return list(rows.all())


def list_digest(payments: Sequence[AllowancePayment]) -> str:
    """SHA-256 of the signed-off list: every payment's id, kind, person, payee and amount, in id order."""
    text = "\n".join(
        f"{p.id}|{p.kind}|{p.month}|{p.person_key}|{p.payee_kind}|{p.payee_name}|{p.payee_id or ''}|{p.amount_fen}"
        for p in payments
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _yuan_text(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


async def bank_file_bytes(
    session: AsyncSession, cipher: FieldCipher, run: AllowanceRun, payments: Sequence[AllowancePayment], encoding: str
) -> bytes:
    """The bank's batch payment file (代发): one row per payment to an account, CSV in ``encoding`` (gbk|utf-8).

    The director subsidy has no account here (it is paid with the director's pay) and is not in the file."""
    payee_ids = sorted({p.payee_id for p in payments if p.payee_id is not None})
    payees = {
        p.id: p for p in (await session.scalars(select(AllowancePayee).where(AllowancePayee.id.in_(payee_ids)))).all()
    }
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(BANK_FILE_HEADER)
    n = 0
    for p in payments:
        payee = payees.get(p.payee_id) if p.payee_id is not None else None
        if payee is None:
            continue
        n += 1
        account = masking.reveal(cipher.decrypt, payee.account_enc, eligibility.PAYEE_FIELD, f"payee {payee.id}")
        if account == masking.UNREADABLE:
            raise Conflict(
                f"收款人“{payee.name}”的银行账号无法解密，请核对密钥或重新登记账号后再生成银行文件 "
                f"(the bank account of payee {payee.id} cannot be decrypted)"
            )
        writer.writerow(
            [
                n,
                payee.name,
                account,
                payee.bank_name,
                _yuan_text(p.amount_fen),
                run.title if run.title else f"{run.month}{KINDS.get(p.kind, p.kind)}",
            ]
        )
    try:
        return out.getvalue().encode(encoding)
    except UnicodeEncodeError as exc:
        bad = exc.object[exc.start : exc.end]
        raise Conflict(
            f"收款人信息含 {encoding.upper()} 无法表示的字符“{bad}”，请改用 UTF-8 或更正户名 "
            f"(a character cannot be written in {encoding})"
        ) from None


async def sign_off(
    session: AsyncSession, principal: Principal, settings: Settings, cipher: FieldCipher, run_id: int, note: str
) -> AllowanceSignOff:
    """The district signs the run's list of payees and amounts; the bank file's digest is kept with it."""
    if principal.role not in SIGNERS:
        raise Forbidden("只有区民政局可签批补贴发放名册 (only the district signs off an allowance run)")
    run = await _run(session, run_id, lock=True)
    if run.status != "prepared":
        raise Conflict(
            f"该批次{RUN_STATUSES.get(run.status, run.status)}，不能再次签批 (the run was signed off already)",
            current_status=run.status,
        )
    payments = await run_payments(session, run.id)
    encoding = settings.allowances.bank_file_encoding
    body = await bank_file_bytes(session, cipher, run, payments, encoding)
    signed = AllowanceSignOff(
        run_id=run.id,
        signed_by=principal.user_id,
        signed_at=clock.now(),
        payments=len(payments),
        total_fen=sum(p.amount_fen for p in payments),
        list_sha256=list_digest(payments),
        file_sha256=hashlib.sha256(body).hexdigest(),
        file_encoding=encoding,
        note=note,
    )
    session.add(signed)
    run.status = "signed_off"
    await session.flush()
    return signed


async def signed_off(session: AsyncSession, run_id: int) -> AllowanceSignOff | None:
    found: AllowanceSignOff | None = await session.scalar(
        select(AllowanceSignOff).where(AllowanceSignOff.run_id == run_id)
    )
    return found


async def bank_file(
    session: AsyncSession, principal: Principal, cipher: FieldCipher, run_id: int
) -> tuple[bytes, str, str]:
    """The signed run's bank file (body, file name, encoding): refused before the sign-off, and refused if what
    would be sent is not byte for byte what was signed."""
    if principal.role not in BANK_FILE_READERS:
        raise Forbidden("无权下载补贴代发文件 (role may not fetch the bank file)")
    run = await _run(session, run_id)
    if run.status == "withdrawn":
        raise Conflict("该批次已撤销，不能生成代发文件 (the run was withdrawn)", current_status=run.status)
    signature = await signed_off(session, run.id)
    if signature is None:
        raise Conflict("补贴发放名册尚未经区民政局签批，不能生成代发文件 (the run is not signed off)")
    payments = await run_payments(session, run.id)
    if list_digest(payments) != signature.list_sha256:
        raise Conflict("发放名册与签批时不一致 (the list differs from what was signed)")
    body = await bank_file_bytes(session, cipher, run, payments, signature.file_encoding)
    if hashlib.sha256(body).hexdigest() != signature.file_sha256:
        raise Conflict("代发文件与签批时不一致 (the bank file differs from what was signed)")
    children = sorted({int(p.person_key.split(":")[1]) for p in payments if p.person_key.startswith("child:")})
    await audit.record_read(session, principal, "export", "child", children, ["allowance_account"])
    return body, f"allowance-run-{run.id}-{run.month}.csv", signature.file_encoding


async def pay_run(session: AsyncSession, principal: Principal, run_id: int) -> AllowanceRun:
    """Record that the signed run was paid (the bank file went to the bank): the ledger's payment, once."""
    require_write(principal)
    run = await _run(session, run_id, lock=True)
    if run.status == "paid":
        raise Conflict("该批次已发放，不能重复发放 (the run was paid already)", current_status=run.status)
    if run.status == "withdrawn":
        raise Conflict("该批次已撤销，不能发放 (the run was withdrawn)", current_status=run.status)
    if run.status != "signed_off":
        raise Conflict(
            "补贴发放名册尚未经区民政局签批，不能发放 (the run must be signed off first)", current_status=run.status
        )
    payments = await run_payments(session, run.id)
    by_line: dict[int, int] = {}
    for p in payments:
        by_line[p.line_id] = by_line.get(p.line_id, 0) + p.amount_fen
    locked = await ledger_side.lock_lines(session, sorted(by_line))
    for line_id, amount in sorted(by_line.items()):
        line = locked[line_id]
        await ledger_side.pay(
            session,
            line,
            amount,
            kind="allowance",
            memo=f"{run.title or run.month} {line.name} 发放",
            user_id=principal.account_id,
            paid_on=None,
            allowance_run_id=run.id,
        )
    run.status = "paid"
    run.paid_at = clock.now()
    run.paid_by = principal.account_id
    return run


async def withdraw_run(session: AsyncSession, principal: Principal, run_id: int, reason: str) -> AllowanceRun:
    """Withdraw a run not yet paid (a wrong list found at sign-off, a bank that refused the file): the budget it
    committed is released and the month can be prepared again; the list and its signature stay on record."""
    require_write(principal)
    run = await _run(session, run_id, lock=True)
    if run.status not in ("prepared", "signed_off"):
        raise Conflict(
            f"该批次{RUN_STATUSES.get(run.status, run.status)}，不能撤销 (only a run not yet paid can be withdrawn)",
            current_status=run.status,
        )
    by_line: dict[int, int] = {}
    for p in await run_payments(session, run.id):
        by_line[p.line_id] = by_line.get(p.line_id, 0) + p.amount_fen
    locked = await ledger_side.lock_lines(session, sorted(by_line))
    for line_id, amount in sorted(by_line.items()):
        await ledger_side.commit(
            session,
            locked[line_id],
            -amount,
            kind="allowance",
            memo=f"{run.title or run.month} {locked[line_id].name} 发放名册撤销：{reason}",
            user_id=principal.account_id,
            allowance_run_id=run.id,
        )
    # The list stays on record; nobody on it counts as paid for the month any more.
    await session.execute(update(AllowancePayment).where(AllowancePayment.run_id == run.id).values(live=None))
    run.status = "withdrawn"
    run.withdrawn_at = clock.now()
    run.withdrawn_by = principal.account_id
    run.withdraw_reason = reason[:300]
    return run


async def read_run(
    session: AsyncSession, principal: Principal, run_id: int
) -> tuple[AllowanceRun, list[AllowancePayment], AllowanceSignOff | None]:
    """A run with its list of payees and amounts (children's names: the read is audited)."""
    require_read(principal, budget=True)
    run = await _run(session, run_id)
    payments = await run_payments(session, run.id)
    children = sorted({int(p.person_key.split(":")[1]) for p in payments if p.person_key.startswith("child:")})
    await audit.record_read(session, principal, "read", "child", children, ["allowance_payments"])
    return run, payments, await signed_off(session, run.id)


async def run_status(session: AsyncSession, principal: Principal, run_id: int) -> AllowanceRun:
    """A run without its list (no child named, so no audit row): its status and preparation progress."""
    require_read(principal, budget=True)
    return await _run(session, run_id)


async def list_runs(session: AsyncSession, principal: Principal, *, limit: int = 100) -> list[AllowanceRun]:
    """The runs, newest month first (counts and totals only: no child is named, so no audit row)."""
    require_read(principal, budget=True)
    rows = await session.scalars(
        select(AllowanceRun).order_by(AllowanceRun.month.desc(), AllowanceRun.id.desc()).limit(limit)
    )
    return list(rows.all())


# ---------------------------------------------------------------- the quarter report


@dataclass(frozen=True)
class QuarterRow:
    kind: str
    month: str | None
    count: int
    persons: int
    total_fen: int


@dataclass(frozen=True)
class RateRow:
    kind: str
    category: str
    amount_fen: int
    count: int
    persons: int
    total_fen: int


def quarter_months(year: int, quarter: int) -> list[str]:
    return [f"{year:04d}-{m:02d}" for m in range(3 * quarter - 2, 3 * quarter + 1)]


def _paid_in(months: list[str]) -> list[object]:
    return [
        AllowancePayment.month.in_(months),
        AllowancePayment.run_id.in_(select(AllowanceRun.id).where(AllowanceRun.status == "paid")),
    ]


async def quarter_report(
    session: AsyncSession, principal: Principal, year: int, quarter: int
) -> tuple[list[QuarterRow], list[QuarterRow]]:
    """Per kind and per month: payments (人次), distinct persons and the total; then per-kind totals. Only runs
    that were paid count (a prepared or signed-off run has paid nobody yet). Festival and special payments count
    under their own kinds (``festival``, ``special``)."""
    require_read(principal, budget=True)
    months = quarter_months(year, quarter)
    where = _paid_in(months)
    rows = await session.execute(
        select(
            AllowancePayment.kind,
            AllowancePayment.month,
            func.count(),
            func.sum(AllowancePayment.amount_fen),
        )
        .where(*where)  # type: ignore[arg-type]
        .group_by(AllowancePayment.kind, AllowancePayment.month)
        .order_by(AllowancePayment.kind, AllowancePayment.month)
    )
    monthly = [QuarterRow(k, m, int(n), int(n), int(t or 0)) for k, m, n, t in rows.all()]
    persons = dict(
        (
            await session.execute(
                select(AllowancePayment.kind, func.count(func.distinct(AllowancePayment.person_key)))
                .where(*where)  # type: ignore[arg-type]
                .group_by(AllowancePayment.kind)
            )
        ).all()
    )
    totals = []
    # The monthly kinds always (a zero is news); a one-off kind when the quarter paid one.
    for kind in [*KINDS, *(k for k in ONE_OFF_KINDS if any(r.kind == k for r in monthly))]:
        mine: Sequence[QuarterRow] = [r for r in monthly if r.kind == kind]
        totals.append(
            QuarterRow(
                kind,
                None,
                sum(r.count for r in mine),
                int(persons.get(kind, 0)),
                sum(r.total_fen for r in mine),
            )
        )
    return monthly, totals


async def quarter_rates(session: AsyncSession, principal: Principal, year: int, quarter: int) -> list[RateRow]:
    """The quarter's payments by kind, category and rate: how many were paid at each amount."""
    require_read(principal, budget=True)
    rows = await session.execute(
        select(
            AllowancePayment.kind,
            AllowancePayment.category,
            AllowancePayment.amount_fen,
            func.count(),
            func.count(func.distinct(AllowancePayment.person_key)),
            func.sum(AllowancePayment.amount_fen),
        )
        .where(*_paid_in(quarter_months(year, quarter)))  # type: ignore[arg-type]
        .group_by(AllowancePayment.kind, AllowancePayment.category, AllowancePayment.amount_fen)
        .order_by(AllowancePayment.kind, AllowancePayment.amount_fen.desc(), AllowancePayment.category)
    )
    return [RateRow(k, c, int(a), int(n), int(p), int(t or 0)) for k, c, a, n, p, t in rows.all()]
