"""Reconciliations: our books against Stripe's balance transactions or an imported bank statement."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.errors import Invalid, NotFound
from marketplace.funds import corrections
from marketplace.funds.channels import online_channel
from marketplace.funds.donations import PAID
from marketplace.funds.models import Donation, DonationRefund, Fund, Reconciliation, ReconciliationDifference
from marketplace.funds.reconciliation import Record, reconcile
from marketplace.funds.reconciliation_models import ReconciliationCorrection
from marketplace.funds.service import get_fund, require_reader, require_writer
from marketplace.funds.statements import BankLine, BankStatement
from marketplace.settings import Settings

log = logging.getLogger("marketplace.funds")
MAX_DAYS = 366
SOURCES = {"stripe": "Stripe 余额流水", "bank": "银行对账单"}


def _utc_bounds(since: dt.date, until: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(since, dt.time(), tzinfo=clock.DISTRICT_TZ).astimezone(dt.UTC)
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), tzinfo=clock.DISTRICT_TZ).astimezone(dt.UTC)
    return start, end


async def our_records(session: AsyncSession, fund_id: int, source: str, since: dt.date, until: dt.date) -> list[Record]:
    """What our books say the other party should show for the period."""
    channels = ("stripe",) if source == "stripe" else ("bank_transfer",)
    key = Donation.charge_id if source == "stripe" else Donation.external_id
    start, end = _utc_bounds(since, until)
    out: list[Record] = []
    paid = await session.execute(
        select(Donation.id, key, Donation.amount_fen, Donation.status).where(
            Donation.fund_id == fund_id,
            Donation.channel.in_(channels),
            key.is_not(None),
            Donation.status.in_(PAID),
            Donation.received_on >= since,
            Donation.received_on <= until,
        )
    )
    out.extend(Record(str(ext), int(amount), "succeeded", int(did)) for did, ext, amount, _ in paid.all())
    # Payments we know of but do not count as paid: a settled charge for one of them is a status difference.
    unpaid = await session.execute(
        select(Donation.id, key, Donation.amount_fen, Donation.status).where(
            Donation.fund_id == fund_id,
            Donation.channel.in_(channels),
            key.is_not(None),
            Donation.status.not_in(PAID),
            Donation.created_at >= start,
            Donation.created_at < end,
        )
    )
    out.extend(Record(str(ext), int(amount), str(status), int(did)) for did, ext, amount, status in unpaid.all())
    refunds = await session.execute(
        select(DonationRefund.external_id, DonationRefund.amount_fen, DonationRefund.donation_id)
        .join(Donation, Donation.id == DonationRefund.donation_id)
        .where(
            Donation.fund_id == fund_id,
            Donation.channel.in_(channels),
            DonationRefund.refunded_on >= since,
            DonationRefund.refunded_on <= until,
        )
    )
    out.extend(Record(str(ext), -int(amount), "refunded", int(did)) for ext, amount, did in refunds.all())
    # Posted corrections (bank fees, amount errors) count under the id they corrected, after the records
    # they correct, so that the amounts of one id add up and the status stays the original's.
    fixes = await session.execute(
        select(ReconciliationCorrection.external_id, ReconciliationCorrection.amount_fen).where(
            ReconciliationCorrection.fund_id == fund_id,
            ReconciliationCorrection.source == source,
            ReconciliationCorrection.kind.in_(corrections.COUNTED),
            ReconciliationCorrection.external_id.is_not(None),
            ReconciliationCorrection.occurred_on >= since,
            ReconciliationCorrection.occurred_on <= until,
        )
    )
    fixed: set[str] = set()
    for ext, amount in fixes.all():
        out.append(Record(str(ext), int(amount), "refunded" if amount < 0 else "succeeded", None))
        fixed.add(str(ext))
    if fixed:
        # A record corrected to nothing (the other party never had it) no longer stands on our side.
        totals: dict[str, int] = {}
        for r in out:
            if r.external_id in fixed:
                totals[r.external_id] = totals.get(r.external_id, 0) + r.amount_fen
        gone = {k for k, v in totals.items() if v == 0}
        out = [r for r in out if r.external_id not in gone]
    return out


def _check_period(since: dt.date, until: dt.date) -> None:
    if since > until:
        raise Invalid.field("since", "起始日期晚于结束日期 (since is after until)")
    if (until - since).days >= MAX_DAYS:
        raise Invalid.field("until", f"对账期间不能超过 {MAX_DAYS} 天 (period too long)")


async def run(
    session: AsyncSession,
    settings: Settings,
    *,
    fund: Fund,
    source: str,
    since: dt.date,
    until: dt.date,
    statement: list[BankLine] | None,
    created_by: int | None,
) -> Reconciliation:
    _check_period(since, until)
    if source == "bank":
        if statement is None:
            raise Invalid.field("file", "银行对账须附对账单 CSV (bank reconciliation needs the statement)")
        theirs = await BankStatement(statement).settlement_records(since, until)
    elif source == "stripe":
        if statement is not None:
            raise Invalid.field("file", "Stripe 对账直接读取 Stripe 流水，不接受文件 (no file for Stripe)")
        theirs = await online_channel(settings, "stripe").settlement_records(since, until)
    else:
        raise Invalid.field("source", "对账来源应为 stripe 或 bank (source must be stripe or bank)")
    ours = await our_records(session, fund.id, source, since, until)
    outcome = reconcile(ours, theirs)
    recon = Reconciliation(
        fund_id=fund.id,
        source=source,
        since=since,
        until=until,
        matched=outcome.matched,
        ours_count=len(ours),
        theirs_count=len(theirs),
        created_by=created_by,
        differences=[
            ReconciliationDifference(
                n=i,
                kind=d.kind,
                donation_id=d.donation_id,
                external_id=d.external_id,
                expected_fen=d.expected_fen,
                actual_fen=d.actual_fen,
                expected_status=d.expected_status,
                actual_status=d.actual_status,
            )
            for i, d in enumerate(outcome.differences, start=1)
        ],
    )
    session.add(recon)
    await session.flush()
    return await get(session, recon.id)


async def create(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    *,
    fund_id: int,
    source: str,
    since: dt.date,
    until: dt.date,
    statement: list[BankLine] | None,
) -> Reconciliation:
    require_writer(principal)
    fund = await get_fund(session, fund_id)
    return await run(
        session,
        settings,
        fund=fund,
        source=source,
        since=since,
        until=until,
        statement=statement,
        created_by=principal.user_id,
    )


async def get(session: AsyncSession, recon_id: int) -> Reconciliation:
    recon = await session.scalar(
        select(Reconciliation).where(Reconciliation.id == recon_id).options(selectinload(Reconciliation.differences))
    )
    if recon is None:
        raise NotFound(f"对账 {recon_id} 不存在 (reconciliation not found)")
    return recon


async def read(session: AsyncSession, principal: Principal, recon_id: int) -> Reconciliation:
    require_reader(principal)
    return await get(session, recon_id)


async def list_for_fund(session: AsyncSession, principal: Principal, fund_id: int | None) -> list[Reconciliation]:
    require_reader(principal)
    stmt = select(Reconciliation).options(selectinload(Reconciliation.differences))
    if fund_id:
        stmt = stmt.where(Reconciliation.fund_id == fund_id)
    return list((await session.scalars(stmt.order_by(Reconciliation.id.desc()).limit(100))).all())


async def _difference(session: AsyncSession, recon_id: int, n: int) -> tuple[Reconciliation, ReconciliationDifference]:
    recon = await get(session, recon_id)
    diff = next((d for d in recon.differences if d.n == n), None)
    if diff is None:
        raise NotFound(f"对账 {recon_id} 没有第 {n} 条差异 (no such difference)")
    return recon, diff


async def preview_resolution(
    session: AsyncSession, principal: Principal, recon_id: int, n: int, choice: corrections.Choice
) -> corrections.Plan:
    """What resolving the difference this way would post, changing nothing."""
    require_writer(principal)
    recon, diff = await _difference(session, recon_id, n)
    return await corrections.plan(session, recon, diff, choice)


async def resolve(
    session: AsyncSession, principal: Principal, recon_id: int, n: int, choice: corrections.Choice
) -> Reconciliation:
    """Resolve a difference as one of the kinds, posting the balancing entry the kind calls for."""
    require_writer(principal)
    recon, diff = await _difference(session, recon_id, n)
    await corrections.apply(session, principal, recon, diff, choice)
    return recon


async def reconcile_yesterday(session: AsyncSession, settings: Settings) -> list[int]:
    """The nightly run: every fund against Stripe for the previous district day, once."""
    day = clock.today() - dt.timedelta(days=1)
    made: list[int] = []
    for fund in (await session.scalars(select(Fund).order_by(Fund.id))).all():
        done = await session.scalar(
            select(Reconciliation.id).where(
                Reconciliation.fund_id == fund.id,
                Reconciliation.source == "stripe",
                Reconciliation.since == day,
                Reconciliation.until == day,
                Reconciliation.created_by.is_(None),
            )
        )
        if done is not None:
            continue
        recon = await run(
            session, settings, fund=fund, source="stripe", since=day, until=day, statement=None, created_by=None
        )
        made.append(recon.id)
        if recon.differences:
            log.warning("fund %s: %d reconciliation differences on %s", fund.id, len(recon.differences), day)
    return made
