"""The fund's disclosure duties (信息公开义务) as a calendar: each period's due date, and whether it was published.

Sources (the duties a charitable fund owes the public):
- 《中华人民共和国慈善法》第七十一条 (a charity owes disclosure, truthful, complete and timely), 第七十二条 (its
  annual work report and financial report every year; a public fundraiser's financial report is audited), 第七十三条 (a public fundraising or a charitable project running longer than six months
  is disclosed at least every three months, and in full within three months after it ends). Article numbers of the
  2016 text.
- 民政部《慈善组织信息公开办法》(revised 2025, in force 2026-01-01): the annual work report and the financial report
  are published on 慈善中国 by 31 May of the following year; each fundraising and each project is its own entry
  (第十六条).

The calendar holds the district's fund to three duties:
- ``fundraising`` 募捐情况: every calendar quarter, due by the end of the month after the quarter (within the three
  months the law allows between two disclosures, leaving the month to close the quarter's books);
- ``projects`` 慈善项目实施情况 (disbursements by project): the same rhythm;
- ``annual_report`` 年度工作报告和财务会计报告: every calendar year, due 31 May of the next year.

A period appears once it has ended (a publication cannot cover a period still running); it is ``published`` when a
publication is recorded for it (``late`` when published after its due date), ``overdue`` when its due date has passed
without one, and ``due`` until then. Periods start with the quarter (year) in which the fund took its first gift or,
without gifts, was set up (or with the earliest period a publication was recorded for).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.auth.models import User
from marketplace.auth.principal import Principal
from marketplace.errors import Conflict, Invalid, NotFound
from marketplace.funds.models import Donation, Fund, FundDisclosure
from marketplace.funds.service import get_fund, require_writer


@dataclass(frozen=True)
class Duty:
    label: str
    cadence: str  # quarter | year
    source: str


DUTIES: dict[str, Duty] = {
    "fundraising": Duty(
        "募捐情况", "quarter", "《慈善法》第七十三条：公开募捐周期超过六个月的，至少每三个月公开一次募捐情况"
    ),
    "projects": Duty(
        "慈善项目实施情况", "quarter", "《慈善法》第七十三条：慈善项目实施周期超过六个月的，至少每三个月公开一次"
    ),
    "annual_report": Duty(
        "年度工作报告和财务会计报告",
        "year",
        "《慈善法》第七十二条；《慈善组织信息公开办法》：每年5月31日前在慈善中国公开上年度报告",
    ),
}
STATUSES = {"published": "已公开", "overdue": "逾期未公开", "due": "待公开"}
QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
YEAR = re.compile(r"^(\d{4})$")


@dataclass(frozen=True)
class Period:
    key: str
    start: dt.date
    end: dt.date
    due_on: dt.date


def _month_end(year: int, month: int) -> dt.date:
    first_next = dt.date(year + month // 12, month % 12 + 1, 1)
    return first_next - dt.timedelta(days=1)


def quarter(year: int, q: int) -> Period:
    start = dt.date(year, 3 * q - 2, 1)
    end = _month_end(year, 3 * q)
    due_month = 3 * q + 1
    due = _month_end(year + (due_month - 1) // 12, (due_month - 1) % 12 + 1)
    return Period(f"{year}-Q{q}", start, end, due)


def year(y: int) -> Period:
    return Period(str(y), dt.date(y, 1, 1), dt.date(y, 12, 31), dt.date(y + 1, 5, 31))


def parse_period(kind: str, key: str) -> Period:
    duty = DUTIES.get(kind)
    if duty is None:
        raise Invalid.field("kind", f"未知的公开事项 {kind}：应为 {'、'.join(DUTIES)} (unknown disclosure kind)")
    if duty.cadence == "quarter":
        m = QUARTER.match(key)
        if m and 2000 <= int(m.group(1)) <= 2999:
            return quarter(int(m.group(1)), int(m.group(2)))
        raise Invalid.field("period", f"“{duty.label}”按季度公开，期间应写作 2026-Q1 (quarterly: YYYY-Qn)")
    m = YEAR.match(key)
    if m and 2000 <= int(m.group(1)) <= 2999:
        return year(int(m.group(1)))
    raise Invalid.field("period", f"“{duty.label}”按年度公开，期间应写作 2025 (yearly: YYYY)")


def periods(kind: str, since: dt.date, today: dt.date) -> list[Period]:
    """The ended periods of a duty from the one containing ``since`` on, oldest first."""
    out: list[Period] = []
    if DUTIES[kind].cadence == "quarter":
        y, q = since.year, (since.month - 1) // 3 + 1
        while (p := quarter(y, q)).end < today:
            out.append(p)
            y, q = (y + 1, 1) if q == 4 else (y, q + 1)
    else:
        y = since.year
        while (p := year(y)).end < today:
            out.append(p)
            y += 1
    return out


@dataclass(frozen=True)
class CalendarEntry:
    kind: str
    period: Period
    status: str
    publication: FundDisclosure | None

    @property
    def late(self) -> bool:
        return self.publication is not None and self.publication.published_on > self.period.due_on


async def fund_start(session: AsyncSession, fund: Fund) -> dt.date:
    first_gift = await session.scalar(
        select(func.min(Donation.received_on)).where(Donation.fund_id == fund.id, Donation.received_on.is_not(None))
    )
    created = clock.local_date(fund.created_at)
    return min(first_gift, created) if first_gift is not None else created


async def calendar(session: AsyncSession, fund: Fund) -> list[CalendarEntry]:
    """Every ended period of every duty, newest first, with its publication if one is recorded."""
    today = clock.today()
    rows = (await session.scalars(select(FundDisclosure).where(FundDisclosure.fund_id == fund.id))).all()
    published = {(d.kind, d.period): d for d in rows}
    start = await fund_start(session, fund)
    entries: list[CalendarEntry] = []
    for kind in DUTIES:
        # A period something was published for is on the calendar even if it began before the fund's first gift.
        since = min([start, *(d.period_start for d in rows if d.kind == kind)])
        for p in periods(kind, since, today):
            pub = published.get((kind, p.key))
            status = "published" if pub is not None else ("overdue" if today > p.due_on else "due")
            entries.append(CalendarEntry(kind, p, status, pub))
    entries.sort(key=lambda e: (e.period.due_on, list(DUTIES).index(e.kind)), reverse=True)
    return entries


async def record(
    session: AsyncSession,
    principal: Principal,
    fund_id: int,
    *,
    kind: str,
    period: str,
    published_on: dt.date,
    channel: str,
    title: str,
    url: str = "",
) -> FundDisclosure:
    """Record that the fund published a period's disclosure: once per duty and period, after the period ended."""
    require_writer(principal)
    fund = await get_fund(session, fund_id)
    p = parse_period(kind, period)
    today = clock.today()
    if published_on > today:
        raise Invalid.field("published_on", "公开日期不能晚于今天 (publication date in the future)")
    if published_on <= p.end:
        raise Invalid.field(
            "published_on",
            f"{p.key} 期间至 {p.end.isoformat()} 结束，公开日期须在期间结束之后 (the period had not ended)",
        )
    if await session.scalar(
        select(FundDisclosure.id).where(
            FundDisclosure.fund_id == fund.id, FundDisclosure.kind == kind, FundDisclosure.period == p.key
        )
    ):
        raise Conflict(f"{p.key}“{DUTIES[kind].label}”已登记公开 (already recorded for this period)")
    user = await session.get(User, principal.user_id) if principal.user_id else None
    row = FundDisclosure(
        fund_id=fund.id,
        kind=kind,
        period=p.key,
        period_start=p.start,
        period_end=p.end,
        published_on=published_on,
        channel=channel.strip(),
        url=url.strip(),
        title=title.strip(),
        published_by=principal.user_id,
        publisher_name=(user.display_name if user is not None else principal.username)[:80],
    )
    session.add(row)
    await session.flush()
    return row


async def public_fund(session: AsyncSession, fund_id: int) -> Fund:
    fund = await get_fund(session, fund_id)
    if not fund.public:
        raise NotFound(f"基金 {fund_id} 不存在 (fund not found)")
    return fund
