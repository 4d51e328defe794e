"""The district's reports: coverage and supply gaps, referral cycle times, the quarterly dispatch, the street ranking.

Reports only read. They aggregate other features' tables directly (a report is a read model across features);
every change still goes through the owning feature's service. Children's data is aggregated, never listed: the
typical cases of the quarterly report name a category, a community and a provider, never a child.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.cases.lifecycle import ACTIVE_NEED_STATUSES
from marketplace.cases.models import Child, Need, Visit
from marketplace.cases.service import visits_on_time
from marketplace.cases.taxonomy import NEED_STATUSES, VERDICTS
from marketplace.errors import Forbidden, Invalid
from marketplace.geography.models import Community, Street
from marketplace.places import service as places
from marketplace.referrals import deadlines
from marketplace.referrals.models import Referral
from marketplace.referrals.taxonomy import OUTCOMES, REFERRAL_STATUSES
from marketplace.resources.models import Organization, Service, ServiceCategory, ServiceStreet
from marketplace.resources.taxonomy import SERVICE_CATEGORIES
from marketplace.settings import Settings
from marketplace.workforce import service as workforce

# Reports built from children's files: the roles who work with children, and the district's overseers.
CHILD_REPORT_ROLES = frozenset({"district_admin", "auditor", "child_supervisor", "child_director"})

# Needs that still wait for help (open, or with a referral under way); withdrawn needs count nowhere.
OPEN_NEED_STATUSES = ACTIVE_NEED_STATUSES
# A need counts as covered once a provider has it, or the caseworker's verdict found it met or partly met (a need
# found unmet is not covered: it waits to be referred again).
COVERED_NEED_STATUSES = ("matched", "in_service", "met", "partly_met")
# Needs that count nowhere (no longer a need).
GONE_NEED_STATUSES = ("withdrawn",)
# Referrals that ended before any service: they do not count against a street's closure rate.
WITHDRAWN_REFERRAL_STATUSES = ("revoked", "declined")
# A referral's loop is closed by the caseworker's verdict after the follow-up visit, not by the provider's
# completion (a completed referral's outcome is only the provider's proposal).
CLOSED_REFERRAL_STATUSES = ("closed",)

REFERRAL_STATUS_LABELS = REFERRAL_STATUSES
# The verdicts that count as help: the good practice shown at the quarterly dispatch.
HELPED_VERDICTS = frozenset({"met", "partly_met"})

# The yearly street ranking (赛马比拼): each indicator is scored 0..1, then weighted. The weights favour what
# the district's guidance stresses most: that every need is taken up and that directors visit on time.
# The directors' yearly assessment (述职考核, marketplace.workforce) counts too: the mean confirmed result.
RANKING_WEIGHTS: dict[str, float] = {
    "coverage_rate": 0.25,
    "visits_on_time_rate": 0.25,
    "referral_closure_rate": 0.20,
    "accept_speed": 0.15,
    "director_assessment": 0.15,
}
RANKING_LABELS: dict[str, str] = {
    "coverage_rate": "需求覆盖率",
    "visits_on_time_rate": "按时走访率",
    "referral_closure_rate": "转介结案率",
    "accept_speed": "接收时效",
    "director_assessment": "儿童主任考核",
}


@dataclass(frozen=True)
class Scope:
    """Where a report may look: the whole district, one street, or one community."""

    street_id: int | None = None
    community_id: int | None = None

    def apply(self, stmt: Any, street_col: Any, community_col: Any) -> Any:
        if self.street_id is not None:
            stmt = stmt.where(street_col == self.street_id)
        if self.community_id is not None:
            stmt = stmt.where(community_col == self.community_id)
        return stmt


def report_scope(principal: Principal, street_id: int | None = None) -> Scope:
    """The caller's scope for a child-related report; 403 for roles that do not work with children."""
    if principal.role not in CHILD_REPORT_ROLES:
        raise Forbidden("此报表涉及儿童信息，仅限区民政、审计、督导员和儿童主任 (child-related report)")
    if principal.role == "child_supervisor":
        if street_id is not None and street_id != principal.street_id:
            raise Forbidden("督导员只能查看本街道的报表 (supervisors see their own street only)")
        return Scope(street_id=principal.street_id)
    if principal.role == "child_director":
        if street_id is not None and street_id != principal.street_id:
            raise Forbidden("儿童主任只能查看本社区的报表 (directors see their own community only)")
        return Scope(street_id=principal.street_id, community_id=principal.community_id)
    return Scope(street_id=street_id)


async def _check_street(session: AsyncSession, street_id: int | None) -> str | None:
    if street_id is None:
        return None
    name = await session.scalar(select(Street.name).where(Street.id == street_id))
    if name is None:
        raise Invalid.field("street_id", f"街道 {street_id} 不存在 (unknown street)")
    return name


def _median_days(pairs: Iterable[tuple[dt.datetime | None, dt.datetime | None]]) -> float | None:
    spans = [(end - start).total_seconds() / 86400 for start, end in pairs if start is not None and end is not None]
    return round(statistics.median(spans), 1) if spans else None


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=clock.DISTRICT_TZ).astimezone(dt.UTC)


# ---------------------------------------------------------------- supply


async def supply_by_category(session: AsyncSession, street_id: int | None) -> dict[str, int]:
    """Published places per month per category serving the street (district-wide services serve every street).

    A service listed under several categories offers its places in each: a place can be used for any of them.
    """
    stmt = (
        select(ServiceCategory.code, func.coalesce(func.sum(Service.capacity_per_month), 0))
        .join(Service, Service.id == ServiceCategory.service_id)
        .join(Organization, Organization.id == Service.organization_id)
        .where(Service.status == "published", Organization.status == "approved")
        .group_by(ServiceCategory.code)
    )
    if street_id is not None:
        serves = select(ServiceStreet.service_id).where(ServiceStreet.street_id == street_id)
        stmt = stmt.where(or_(Service.district_wide.is_(True), Service.id.in_(serves)))
    rows = await session.execute(stmt)
    return {code: int(n) for code, n in rows.all()}


# ---------------------------------------------------------------- coverage


async def coverage(session: AsyncSession, principal: Principal, street_id: int | None = None) -> dict[str, Any]:
    scope = report_scope(principal, street_id)
    street_name = await _check_street(session, scope.street_id)
    children = await session.scalar(
        scope.apply(
            select(func.count()).select_from(Child).where(Child.status == "active"), Child.street_id, Child.community_id
        )
    )
    need_rows = await session.execute(
        scope.apply(
            select(Need.category, Need.status, func.count()).group_by(Need.category, Need.status),
            Need.street_id,
            Need.community_id,
        )
    )
    demand: dict[str, Counter[str]] = defaultdict(Counter)
    for category, status, n in need_rows.all():
        demand[category][status] += int(n)
    supply = await supply_by_category(session, scope.street_id)
    categories = [c for c in SERVICE_CATEGORIES if c in demand or supply.get(c)]
    categories += sorted(c for c in demand if c not in SERVICE_CATEGORIES)
    by_category = []
    for code in categories:
        open_n = sum(demand[code][s] for s in OPEN_NEED_STATUSES)
        by_category.append(
            {
                "category": code,
                "label": SERVICE_CATEGORIES.get(code, code),
                "open_needs": open_n,
                "met_needs": demand[code]["met"],
                "partly_met_needs": demand[code]["partly_met"],
                "supply_per_month": supply.get(code, 0),
                "gap": max(0, open_n - supply.get(code, 0)),
            }
        )
    totals = Counter[str]()
    for counts in demand.values():
        totals.update(counts)
    live = sum(n for s, n in totals.items() if s not in GONE_NEED_STATUSES)
    return {
        "street_id": scope.street_id,
        "street_name": street_name,
        "community_id": scope.community_id,
        "children": int(children or 0),
        "open_needs": sum(totals[s] for s in OPEN_NEED_STATUSES),
        "met_needs": totals["met"],
        "partly_met_needs": totals["partly_met"],
        "not_met_needs": totals["not_met"],
        "needs_by_status": {s: totals[s] for s in NEED_STATUSES},
        "coverage_rate": _rate(sum(totals[s] for s in COVERED_NEED_STATUSES), live),
        "by_category": by_category,
    }


# ---------------------------------------------------------------- referrals


async def referrals(
    session: AsyncSession, principal: Principal, settings: Settings, street_id: int | None = None
) -> dict[str, Any]:
    scope = report_scope(principal, street_id)
    await _check_street(session, scope.street_id)
    rows = await session.execute(
        scope.apply(
            select(
                Referral.status,
                Referral.sent_at,
                Referral.accepted_at,
                Referral.closed_at,
                Referral.escalated_at,
                Referral.started_at,
                Referral.completed_at,
                Referral.verdict,
            ),
            Referral.street_id,
            Referral.community_id,
        )
    )
    data = rows.all()
    verdicts = Counter(r[7] for r in data if r[7] is not None)
    by_status = Counter(status for status, *_ in data)
    # Overdue by the need's urgency: an urgency-4 referral is late after 4 hours, an urgency-1 one after 72.
    overdue = int(
        await session.scalar(
            scope.apply(
                select(func.count())
                .select_from(Referral)
                .join(Need, Need.id == Referral.need_id)
                .where(deadlines.overdue_clause(settings.deadlines, clock.now())),
                Referral.street_id,
                Referral.community_id,
            )
        )
        or 0
    )
    return {
        "street_id": scope.street_id,
        "community_id": scope.community_id,
        "total": len(data),
        "by_status": [
            {"status": s, "label": REFERRAL_STATUS_LABELS.get(s, s), "count": n} for s, n in sorted(by_status.items())
        ],
        # Each stage counts the referrals that reached it, whatever happened after: the funnel of the loop.
        "funnel": [
            {"stage": "sent", "label": "已发送", "count": len(data)},
            {"stage": "accepted", "label": "已接收", "count": sum(1 for r in data if r[2] is not None)},
            {"stage": "started", "label": "已开始服务", "count": sum(1 for r in data if r[5] is not None)},
            {"stage": "completed", "label": "服务完成", "count": sum(1 for r in data if r[6] is not None)},
            {"stage": "closed", "label": "已结案", "count": sum(1 for r in data if r[3] is not None)},
        ],
        # The caseworkers' verdicts at the close (the providers' outcomes are only proposals), and the completed
        # referrals still waiting for one.
        "by_verdict": [{"verdict": v, "label": label, "count": verdicts[v]} for v, label in VERDICTS.items()],
        "awaiting_verdict": by_status.get("completed", 0),
        "median_days_to_accept": _median_days((r[1], r[2]) for r in data),
        "median_days_to_close": _median_days((r[1], r[3]) for r in data),
        "overdue": overdue,
        "escalated": sum(1 for r in data if r[4] is not None),
        "sla_hours": settings.deadlines.standard_accept_hours,
    }


async def overdue(
    session: AsyncSession, principal: Principal, settings: Settings, street_id: int | None = None
) -> dict[str, Any]:
    """What is late, per street: children whose next visit is past due, referrals not answered within their need's
    urgency's deadline."""
    scope = report_scope(principal, street_id)
    await _check_street(session, scope.street_id)
    visit_rows = await session.execute(
        scope.apply(
            select(Child.street_id, func.count())
            .where(Child.status == "active", Child.next_visit_due < clock.today())
            .group_by(Child.street_id),
            Child.street_id,
            Child.community_id,
        )
    )
    referral_rows = await session.execute(
        scope.apply(
            select(Referral.street_id, func.count())
            .join(Need, Need.id == Referral.need_id)
            .where(deadlines.overdue_clause(settings.deadlines, clock.now()))
            .group_by(Referral.street_id),
            Referral.street_id,
            Referral.community_id,
        )
    )
    visits = {int(s): int(n) for s, n in visit_rows.all()}
    refs = {int(s): int(n) for s, n in referral_rows.all()}
    streets = (await session.execute(select(Street.id, Street.name).order_by(Street.id))).all()
    return {
        "street_id": scope.street_id,
        "community_id": scope.community_id,
        "visits_overdue": sum(visits.values()),
        "referrals_overdue": sum(refs.values()),
        "streets": [
            {
                "street_id": sid,
                "name": name,
                "visits_overdue": visits.get(sid, 0),
                "referrals_overdue": refs.get(sid, 0),
            }
            for sid, name in streets
            if scope.street_id in (None, sid)
        ],
    }


# ---------------------------------------------------------------- visits on time


async def _visit_rows(session: AsyncSession, scope: Scope, until: dt.date) -> list[tuple[int, dt.date, dt.date]]:
    stmt = (
        select(Visit.child_id, Visit.visited_on, Visit.next_visit_due)
        .join(Child, Child.id == Visit.child_id)
        .where(Visit.visited_on <= until)
    )
    rows = await session.execute(scope.apply(stmt, Child.street_id, Child.community_id))
    return [(int(c), v, n) for c, v, n in rows.all()]


# ---------------------------------------------------------------- the quarterly dispatch


def quarter_bounds(year: int, quarter: int) -> tuple[dt.date, dt.date]:
    if not 2000 <= year <= 2100:
        raise Invalid.field("year", "年份应在 2000-2100 之间 (year out of range)")
    if quarter not in (1, 2, 3, 4):
        raise Invalid.field("quarter", "季度应为 1-4 (quarter must be 1..4)")
    start = dt.date(year, 3 * quarter - 2, 1)
    end = dt.date(year + 1, 1, 1) if quarter == 4 else dt.date(year, 3 * quarter + 1, 1)
    return start, end - dt.timedelta(days=1)


async def quarterly(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    year: int,
    quarter: int,
    street_id: int | None = None,
) -> dict[str, Any]:
    """The quarterly dispatch (每季度工作调度): progress, typical cases and open problems of a street (or all)."""
    scope = report_scope(principal, street_id)
    start, end = quarter_bounds(year, quarter)
    street_name = await _check_street(session, scope.street_id)
    t0, t1 = _day_start(start), _day_start(end + dt.timedelta(days=1))

    async def count(stmt: Any, street_col: Any, community_col: Any) -> int:
        return int(await session.scalar(scope.apply(stmt, street_col, community_col)) or 0)

    children_total = await count(
        select(func.count()).select_from(Child).where(Child.status == "active", Child.created_at < t1),
        Child.street_id,
        Child.community_id,
    )
    children_new = await count(
        select(func.count()).select_from(Child).where(Child.created_at >= t0, Child.created_at < t1),
        Child.street_id,
        Child.community_id,
    )
    needs_opened = await count(
        select(func.count()).select_from(Need).where(Need.created_at >= t0, Need.created_at < t1),
        Need.street_id,
        Need.community_id,
    )
    # Settled by the caseworker's verdict in the quarter (a need reopened since counts again when settled again).
    needs_met = await count(
        select(func.count()).select_from(Need).where(Need.status == "met", Need.met_at >= t0, Need.met_at < t1),
        Need.street_id,
        Need.community_id,
    )
    needs_partly_met = await count(
        select(func.count()).select_from(Need).where(Need.status == "partly_met", Need.met_at >= t0, Need.met_at < t1),
        Need.street_id,
        Need.community_id,
    )
    on_time, visits = visits_on_time(await _visit_rows(session, scope, end), start, end)
    ref_rows = (
        await session.execute(
            scope.apply(
                select(
                    Referral.id,
                    Referral.status,
                    Referral.sent_at,
                    Referral.accepted_at,
                    Referral.closed_at,
                    Referral.completed_at,
                    Referral.declined_at,
                    Referral.outcome,
                    Referral.verdict,
                    Referral.need_id,
                    Referral.service_id,
                    Referral.community_id,
                ).where(
                    or_(
                        Referral.sent_at.between(t0, t1),
                        Referral.closed_at.between(t0, t1),
                        Referral.status == "sent",
                    )
                ),
                Referral.street_id,
                Referral.community_id,
            )
        )
    ).all()
    in_quarter = [r for r in ref_rows if t0 <= r.sent_at < t1]
    closed_in_quarter = [r for r in ref_rows if r.closed_at is not None and t0 <= r.closed_at < t1]
    progress = {
        "children_total": children_total,
        "children_new": children_new,
        "needs_opened": needs_opened,
        "needs_met": needs_met,
        "needs_partly_met": needs_partly_met,
        "visits": visits,
        "visits_on_time": on_time,
        "visits_on_time_rate": _rate(on_time, visits),
        "referrals_sent": len(in_quarter),
        "referrals_accepted": sum(1 for r in in_quarter if r.accepted_at is not None),
        "referrals_closed": len(closed_in_quarter),
        "median_days_to_accept": _median_days((r.sent_at, r.accepted_at) for r in in_quarter),
        "median_days_to_close": _median_days((r.sent_at, r.closed_at) for r in closed_in_quarter),
    }
    typical = await _typical_cases(session, closed_in_quarter)
    problems = await _open_problems(session, scope, settings, ref_rows, end)
    # The stations' and children's homes' use in the quarter (counts only): marketplace.places.
    place_usage = await places.dispatch_section(
        session, year, quarter, street_id=scope.street_id, community_id=scope.community_id
    )
    return {
        "year": year,
        "quarter": quarter,
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "street_id": scope.street_id,
        "street_name": street_name,
        "community_id": scope.community_id,
        "progress": progress,
        "typical_cases": typical,
        "open_problems": problems,
        "places": place_usage,
    }


async def _typical_cases(session: AsyncSession, closed: list[Any], limit: int = 5) -> list[dict[str, Any]]:
    """Closed referrals the caseworker found met or partly met, fastest first: the good practice to share."""
    with_outcome = sorted(
        (r for r in closed if r.verdict in HELPED_VERDICTS),
        key=lambda r: ((r.closed_at - r.sent_at).total_seconds(), r.id),
    )[:limit]
    if not with_outcome:
        return []
    need_ids = [r.need_id for r in with_outcome]
    service_ids = [r.service_id for r in with_outcome]
    community_ids = [r.community_id for r in with_outcome]
    categories = dict((await session.execute(select(Need.id, Need.category).where(Need.id.in_(need_ids)))).all())
    services = {
        sid: (title, org)
        for sid, title, org in (
            await session.execute(
                select(Service.id, Service.title, Organization.name)
                .join(Organization, Organization.id == Service.organization_id)
                .where(Service.id.in_(service_ids))
            )
        )
    }
    communities = dict(
        (await session.execute(select(Community.id, Community.name).where(Community.id.in_(community_ids)))).all()
    )
    return [
        {
            "referral_id": r.id,
            "category": categories.get(r.need_id, ""),
            "category_label": SERVICE_CATEGORIES.get(categories.get(r.need_id, ""), ""),
            "community": communities.get(r.community_id, ""),
            "service": services.get(r.service_id, ("", ""))[0],
            "organization": services.get(r.service_id, ("", ""))[1],
            "outcome": r.outcome,
            "outcome_label": OUTCOMES.get(r.outcome, r.outcome) if r.outcome else None,
            "verdict": r.verdict,
            "verdict_label": VERDICTS.get(r.verdict, r.verdict),
            "days_to_close": round((r.closed_at - r.sent_at).total_seconds() / 86400, 1),
        }
        for r in with_outcome
    ]


async def _open_problems(
    session: AsyncSession, scope: Scope, settings: Settings, ref_rows: Sequence[Any], end: dt.date
) -> list[dict[str, Any]]:
    as_of = min(clock.now(), _day_start(end + dt.timedelta(days=1)))
    waiting = [r for r in ref_rows if r.status == "sent"]
    urgency = await deadlines.urgencies(session, (r.need_id for r in waiting))
    overdue_refs = sum(
        1 for r in waiting if deadlines.is_overdue(r.status, r.sent_at, urgency[r.need_id], settings.deadlines, as_of)
    )
    overdue_visits = int(
        await session.scalar(
            scope.apply(
                select(func.count())
                .select_from(Child)
                .where(Child.status == "active", Child.next_visit_due < min(clock.today(), end)),
                Child.street_id,
                Child.community_id,
            )
        )
        or 0
    )
    urgent_waiting = int(
        await session.scalar(
            scope.apply(
                select(func.count()).select_from(Need).where(Need.status == "open", Need.urgency >= 3),
                Need.street_id,
                Need.community_id,
            )
        )
        or 0
    )
    demand = dict(
        (
            await session.execute(
                scope.apply(
                    select(Need.category, func.count())
                    .where(Need.status.in_(OPEN_NEED_STATUSES))
                    .group_by(Need.category),
                    Need.street_id,
                    Need.community_id,
                )
            )
        ).all()
    )
    supply = await supply_by_category(session, scope.street_id)
    gaps = [str(SERVICE_CATEGORIES.get(c, c)) for c, n in sorted(demand.items()) if int(n) > supply.get(c, 0)]
    problems = [
        {"kind": "overdue_referrals", "label": "超时未接收的转介", "count": overdue_refs},
        {"kind": "overdue_visits", "label": "逾期未走访的儿童", "count": overdue_visits},
        {"kind": "urgent_needs_waiting", "label": "待对接的紧急需求", "count": urgent_waiting},
        {"kind": "supply_gaps", "label": "供给不足的服务类别", "count": len(gaps), "detail": "、".join(gaps)},
    ]
    return [p for p in problems if p["count"]]


# ---------------------------------------------------------------- the yearly street ranking


def _accept_speed(median_days: float | None, sla_hours: int) -> float | None:
    """1 when referrals are accepted at once, 0 at twice the SLA or slower, linear in between."""
    if median_days is None:
        return None
    limit = 2 * sla_hours / 24
    return round(max(0.0, 1 - median_days / limit), 4)


async def street_ranking(session: AsyncSession, principal: Principal, settings: Settings, year: int) -> dict[str, Any]:
    if principal.role not in CHILD_REPORT_ROLES:
        raise Forbidden("此报表涉及儿童信息，仅限区民政、审计、督导员和儿童主任 (child-related report)")
    start, _ = quarter_bounds(year, 1)
    end = dt.date(year, 12, 31)
    t0, t1 = _day_start(start), _day_start(end + dt.timedelta(days=1))
    streets = (await session.execute(select(Street.id, Street.name).order_by(Street.id))).all()
    needs: dict[int, Counter[str]] = defaultdict(Counter)
    for sid, status, n in await session.execute(
        select(Need.street_id, Need.status, func.count())
        .where(Need.created_at >= t0, Need.created_at < t1)
        .group_by(Need.street_id, Need.status)
    ):
        needs[int(sid)][status] += int(n)
    refs: dict[int, list[Any]] = defaultdict(list)
    for row in (
        await session.execute(
            select(Referral.street_id, Referral.status, Referral.sent_at, Referral.accepted_at).where(
                Referral.sent_at >= t0, Referral.sent_at < t1
            )
        )
    ).all():
        refs[int(row.street_id)].append(row)
    visits: dict[int, list[tuple[int, dt.date, dt.date]]] = defaultdict(list)
    for sid, child_id, visited_on, next_due in await session.execute(
        select(Child.street_id, Visit.child_id, Visit.visited_on, Visit.next_visit_due)
        .join(Child, Child.id == Visit.child_id)
        .where(Visit.visited_on <= end)
    ):
        visits[int(sid)].append((int(child_id), visited_on, next_due))
    assessed = await workforce.street_director_results(session, year)
    items: list[dict[str, Any]] = []
    for sid, name in streets:
        counts = needs[sid]
        live = sum(n for s, n in counts.items() if s not in GONE_NEED_STATUSES)
        coverage_rate = _rate(sum(counts[s] for s in COVERED_NEED_STATUSES), live)
        on_time, total_visits = visits_on_time(visits[sid], start, end)
        sent = [r for r in refs[sid] if r.status not in WITHDRAWN_REFERRAL_STATUSES]
        closure = _rate(sum(1 for r in sent if r.status in CLOSED_REFERRAL_STATUSES), len(sent))
        median_accept = _median_days((r.sent_at, r.accepted_at) for r in refs[sid])
        indicators = {
            "coverage_rate": coverage_rate,
            "visits_on_time_rate": _rate(on_time, total_visits),
            "referral_closure_rate": closure,
            "accept_speed": _accept_speed(median_accept, settings.deadlines.standard_accept_hours),
            "director_assessment": round(assessed[sid][0] / 100, 4) if sid in assessed else None,
        }
        # A street with nothing to measure on an indicator scores 0 there: no data is not good practice.
        score = sum(RANKING_WEIGHTS[k] * (v or 0.0) for k, v in indicators.items())
        items.append(
            {
                "street_id": sid,
                "street_name": name,
                "needs": live,
                "visits": total_visits,
                "referrals": len(refs[sid]),
                "median_days_to_accept": median_accept,
                "directors_assessed": assessed.get(sid, (0.0, 0))[1],
                "indicators": indicators,
                "score": round(100 * score, 1),
            }
        )
    items.sort(key=lambda i: (-float(i["score"]), int(i["street_id"])))
    for rank, item in enumerate(items, start=1):
        item["rank"] = rank
    return {
        "year": year,
        "weights": RANKING_WEIGHTS,
        "indicator_labels": RANKING_LABELS,
        "method": (
            "每项指标折算为0-1分后加权求和并乘以100：需求覆盖率=已转介、服务中或经回访确认已满足、部分满足的需求/当年登记且未撤销的需求；"
            "按时走访率=不晚于上次走访约定日期的走访/当年走访次数；转介结案率=经回访确认结果并结案的转介/当年发出且未撤回或被拒的转介；"
            f"接收时效=1-接收天数中位数/({2 * settings.deadlines.standard_accept_hours}小时)，不低于0；"
            "儿童主任考核=街道儿童主任当年已确认述职考核得分的平均值/100。无数据的指标记0分。"
        ),
        "items": items,
    }
