"""The fund's accounts: what the public sees (no auth, no personal data) and the fund report for staff."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.funds import disclosures, purposes
from marketplace.funds.donations import CHANNELS, PAID
from marketplace.funds.models import Disbursement, Donation, DonationRefund, Donor, Fund, FundDisclosure
from marketplace.funds.schemas import (
    DisclosureCalendar,
    DisclosureDue,
    DisclosureOut,
    FundReport,
    HonourEntry,
    HonourRoll,
    MonthChannel,
    PublicDisbursement,
    PublicDisbursementList,
    PublicDonation,
    PublicDonationList,
    PublicFundList,
    PublicFundOut,
    PublicFundSummary,
    PublicPurpose,
)
from marketplace.funds.service import fund_balances, funds_balances, get_fund, require_reader
from marketplace.funds.taxonomy import FUND_KINDS, kind_label
from marketplace.geography.models import Street
from marketplace.resources.models import Organization, Service
from marketplace.tabular import Sheet

ANONYMOUS_DONOR = "爱心人士（匿名）"
KIND_ORDER = {k: i for i, k in enumerate(FUND_KINDS)}


async def _street_name(session: AsyncSession, fund: Fund) -> str:
    if fund.street_id is None:
        return ""
    return str(await session.scalar(select(Street.name).where(Street.id == fund.street_id)) or "")


async def public_funds(session: AsyncSession) -> PublicFundList:
    """Every public fund (公益基金, 街道基金会, 民生微实事) with its kind, street and totals: no gift, no donor."""
    rows = list((await session.scalars(select(Fund).where(Fund.public.is_(True)).order_by(Fund.id))).all())
    balances = await funds_balances(session, rows)
    names = {int(i): str(n) for i, n in (await session.execute(select(Street.id, Street.name))).all()}
    items = [
        PublicFundSummary(
            id=b.fund.id,
            name=b.fund.name,
            kind=b.fund.kind,
            kind_label=kind_label(b.fund.kind),
            street_name=names.get(b.fund.street_id, "") if b.fund.street_id is not None else "",
            year=b.fund.year,
            income_fen=b.income_fen,
            spent_fen=b.spent_fen,
            balance_fen=b.balance_fen,
        )
        for b in balances
    ]
    items.sort(key=lambda i: (KIND_ORDER.get(i.kind, 9), i.street_name, i.id))
    return PublicFundList(items=items, total=len(items), as_of=clock.today())


async def public_accounts(session: AsyncSession, fund_id: int) -> PublicFundOut:
    fund = await disclosures.public_fund(session, fund_id)
    b = await fund_balances(session, fund)
    names = await purposes.labels(session, b.purposes)
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
        PublicPurpose(purpose=p, label=names[p], income_fen=v["income_fen"], spent_fen=v["spent_fen"])
        for p, v in sorted(b.purposes.items())
        if v["spent_fen"]
    ]
    income = [
        PublicPurpose(purpose=p, label=names[p], income_fen=v["income_fen"], spent_fen=v["spent_fen"])
        for p, v in sorted(b.purposes.items())
        if v["income_fen"]
    ]
    return PublicFundOut(
        id=fund.id,
        name=fund.name,
        kind=fund.kind,
        kind_label=kind_label(fund.kind),
        street_name=await _street_name(session, fund),
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


async def public_disbursements(
    session: AsyncSession, fund_id: int, *, limit: int, offset: int
) -> PublicDisbursementList:
    """Every disbursement in force (reversed ones are corrections, not spending), newest first, with the project's
    and its organization's names and the purpose by name: their sum is the public accounts' ``spent_fen``."""
    fund = await disclosures.public_fund(session, fund_id)
    where = (Disbursement.fund_id == fund.id, Disbursement.status == "paid")
    total = int(await session.scalar(select(func.count()).select_from(Disbursement).where(*where)) or 0)
    rows = (
        await session.execute(
            select(Disbursement, Service.title, Organization.name)
            .outerjoin(Service, Service.id == Disbursement.service_id)
            .outerjoin(Organization, Organization.id == Service.organization_id)
            .where(*where)
            .order_by(Disbursement.paid_on.desc(), Disbursement.id.desc())
            .limit(limit)
            .offset(offset)
        )
    ).all()
    names = await purposes.labels(session, {d.purpose for d, _, _ in rows})
    return PublicDisbursementList(
        items=[
            PublicDisbursement(
                id=d.id,
                paid_on=d.paid_on,
                service_id=d.service_id,
                service_name=title or "",
                organization_name=org or "",
                through_referral=d.referral_id is not None,
                amount_fen=d.amount_fen,
                purpose=d.purpose,
                purpose_label=names[d.purpose],
                memo=d.memo,
            )
            for d, title, org in rows
        ],
        total=total,
    )


async def public_donations(session: AsyncSession, fund_id: int, *, limit: int, offset: int) -> PublicDonationList:
    """Every gift received, newest first; a donor is named only with their consent (the honour roll's
    ``consent_to_name``, given by ``anonymous: false`` on a gift), otherwise shown as 爱心人士（匿名）."""
    fund = await disclosures.public_fund(session, fund_id)
    where = (Donation.fund_id == fund.id, Donation.status.in_(PAID))
    total = int(await session.scalar(select(func.count()).select_from(Donation).where(*where)) or 0)
    rows = (
        await session.execute(
            select(Donation, Donor.name, Donor.consent_to_name)
            .join(Donor, Donor.id == Donation.donor_id)
            .where(*where)
            .order_by(Donation.received_on.desc(), Donation.id.desc())
            .limit(limit)
            .offset(offset)
        )
    ).all()
    names = await purposes.labels(session, {d.purpose for d, _, _ in rows})
    return PublicDonationList(
        items=[
            PublicDonation(
                received_on=d.received_on,
                donor_name=name if consent else ANONYMOUS_DONOR,
                anonymous=not consent,
                amount_fen=d.amount_fen,
                refunded_fen=d.refunded_fen,
                channel_label=CHANNELS.get(d.channel, d.channel),
                purpose=d.purpose,
                purpose_label=names[d.purpose],
                receipt_no=d.receipt_no,
            )
            for d, name, consent in rows
        ],
        total=total,
    )


def disclosure_out(d: FundDisclosure) -> DisclosureOut:
    return DisclosureOut(
        id=d.id,
        fund_id=d.fund_id,
        kind=d.kind,
        kind_label=disclosures.DUTIES[d.kind].label if d.kind in disclosures.DUTIES else d.kind,
        period=d.period,
        period_start=d.period_start,
        period_end=d.period_end,
        published_on=d.published_on,
        channel=d.channel,
        url=d.url,
        title=d.title,
        publisher_name=d.publisher_name,
    )


async def disclosure_calendar(session: AsyncSession, fund_id: int) -> DisclosureCalendar:
    fund = await disclosures.public_fund(session, fund_id)
    entries = await disclosures.calendar(session, fund)
    items = [
        DisclosureDue(
            kind=e.kind,
            kind_label=disclosures.DUTIES[e.kind].label,
            source=disclosures.DUTIES[e.kind].source,
            period=e.period.key,
            period_start=e.period.start,
            period_end=e.period.end,
            due_on=e.period.due_on,
            status=e.status,
            status_label=disclosures.STATUSES[e.status],
            late=e.late,
            publication=disclosure_out(e.publication) if e.publication is not None else None,
        )
        for e in entries
    ]
    return DisclosureCalendar(
        fund_id=fund.id, as_of=clock.today(), items=items, overdue=sum(1 for i in items if i.status == "overdue")
    )


async def honour_roll(session: AsyncSession, fund_id: int, *, limit: int, offset: int) -> HonourRoll:
    """Donors who consented to be named, with what they gave; everyone else only as a count and a sum."""
    fund = await disclosures.public_fund(session, fund_id)
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
    names = await purposes.labels(session, b.purposes)
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
        kind=fund.kind,
        kind_label=kind_label(fund.kind),
        street_name=await _street_name(session, fund),
        income_by_month=[
            MonthChannel(month=m, channel=c, income_fen=v[0], refunds_fen=v[1], donations=v[2])
            for (m, c), v in sorted(by_key.items())
        ],
        spending_by_purpose=[
            PublicPurpose(purpose=p, label=names[p], income_fen=v["income_fen"], spent_fen=v["spent_fen"])
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
