"""The fund's accounts: what the public sees (no auth, no personal data) and the fund report for staff."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.errors import NotFound
from marketplace.funds import accounts
from marketplace.funds.donations import CHANNELS, PAID
from marketplace.funds.models import Donation, DonationRefund, Donor
from marketplace.funds.schemas import (
    FundReport,
    HonourEntry,
    HonourRoll,
    MonthChannel,
    PublicFundOut,
    PublicPurpose,
)
from marketplace.funds.service import fund_balances, get_fund, require_reader
from marketplace.tabular import Sheet


async def public_accounts(session: AsyncSession, fund_id: int) -> PublicFundOut:
    fund = await get_fund(session, fund_id)
    if not fund.public:
        raise NotFound(f"基金 {fund_id} 不存在 (fund not found)")
    b = await fund_balances(session, fund)
    row = (
        await session.execute(
            select(
                func.coalesce(func.sum(Donation.amount_fen), 0),
                func.coalesce(func.sum(Donation.refunded_fen), 0),
                func.count(),
                func.count(func.distinct(Donation.donor_id)),
            ).where(Donation.fund_id == fund.id, Donation.status.in_(PAID))
        )
    ).one()
    spending = [
        PublicPurpose(purpose=p, label=accounts.purpose_label(p), income_fen=v["income_fen"], spent_fen=v["spent_fen"])
        for p, v in sorted(b.purposes.items())
        if v["spent_fen"]
    ]
    income = [
        PublicPurpose(purpose=p, label=accounts.purpose_label(p), income_fen=v["income_fen"], spent_fen=v["spent_fen"])
        for p, v in sorted(b.purposes.items())
        if v["income_fen"]
    ]
    return PublicFundOut(
        id=fund.id,
        name=fund.name,
        income_fen=int(row[0]),
        refunded_fen=int(row[1]),
        spent_fen=b.spent_fen,
        fees_fen=b.fees_fen,
        balance_fen=b.balance_fen,
        donations=int(row[2]),
        donors=int(row[3]),
        spending_by_purpose=spending,
        income_by_purpose=income,
        as_of=clock.today(),
    )


async def honour_roll(session: AsyncSession, fund_id: int, *, limit: int, offset: int) -> HonourRoll:
    """Donors who consented to be named, with what they gave; everyone else only as a count and a sum."""
    fund = await get_fund(session, fund_id)
    if not fund.public:
        raise NotFound(f"基金 {fund_id} 不存在 (fund not found)")
    net = func.sum(Donation.amount_fen - Donation.refunded_fen)
    given = (
        select(Donor.id, Donor.name, Donor.kind, net.label("net"), func.count().label("n"))
        .join(Donation, Donation.donor_id == Donor.id)
        .where(Donation.fund_id == fund.id, Donation.status.in_(PAID))
        .group_by(Donor.id, Donor.name, Donor.kind)
        .having(net > 0)
    )
    named = await session.execute(
        given.where(Donor.consent_to_name.is_(True)).order_by(net.desc(), Donor.id).limit(limit).offset(offset)
    )
    hidden = given.where(Donor.consent_to_name.is_(False)).subquery()
    count, total = (await session.execute(select(func.count(), func.coalesce(func.sum(hidden.c.net), 0)))).one()
    return HonourRoll(
        fund_id=fund.id,
        items=[HonourEntry(name=r.name, kind=r.kind, total_fen=int(r.net), donations=int(r.n)) for r in named],
        anonymous_donors=int(count),
        anonymous_total_fen=int(total),
    )


async def fund_report(session: AsyncSession, principal: Principal, fund_id: int) -> FundReport:
    require_reader(principal)
    fund = await get_fund(session, fund_id)
    b = await fund_balances(session, fund)
    by_key: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    gifts = await session.execute(
        select(Donation.received_on, Donation.channel, Donation.amount_fen).where(
            Donation.fund_id == fund.id, Donation.status.in_(PAID), Donation.received_on.is_not(None)
        )
    )
    for on, channel, amount in gifts.all():
        slot = by_key[(clock.month_key(on), channel)]
        slot[0] += int(amount)
        slot[2] += 1
    refunds = await session.execute(
        select(DonationRefund.refunded_on, Donation.channel, DonationRefund.amount_fen)
        .join(Donation, Donation.id == DonationRefund.donation_id)
        .where(Donation.fund_id == fund.id)
    )
    for on, channel, amount in refunds.all():
        by_key[(clock.month_key(on), channel)][1] += int(amount)
    return FundReport(
        fund_id=fund.id,
        fund_name=fund.name,
        income_by_month=[
            MonthChannel(month=m, channel=c, income_fen=v[0], refunds_fen=v[1], donations=v[2])
            for (m, c), v in sorted(by_key.items())
        ],
        spending_by_purpose=[
            PublicPurpose(
                purpose=p, label=accounts.purpose_label(p), income_fen=v["income_fen"], spent_fen=v["spent_fen"]
            )
            for p, v in sorted(b.purposes.items())
        ],
        balance_fen=b.balance_fen,
        restricted_balance_fen=b.restricted_fen,
        unrestricted_balance_fen=b.unrestricted_fen,
        fees_fen=b.fees_fen,
    )


def report_sheet(report: FundReport) -> Sheet:
    """One sheet, three blocks (income by month and channel, purposes, totals), amounts in fen."""
    rows: list[list[object]] = [
        ["income", m.month, CHANNELS.get(m.channel, m.channel), m.income_fen, m.refunds_fen, m.donations]
        for m in report.income_by_month
    ]
    rows += [["purpose", p.purpose, p.label, p.income_fen, p.spent_fen, ""] for p in report.spending_by_purpose]
    rows += [
        ["total", "balance", "余额", report.balance_fen, "", ""],
        ["total", "restricted", "定向余额", report.restricted_balance_fen, "", ""],
        ["total", "unrestricted", "非定向余额", report.unrestricted_balance_fen, "", ""],
        ["total", "fees", "手续费", report.fees_fen, "", ""],
    ]
    headers = ["section", "month_or_purpose", "channel_or_label", "income_fen", "refunds_or_spent_fen", "count"]
    return Sheet(f"fund-{report.fund_id}", headers, rows)
