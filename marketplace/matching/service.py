"""Matching a need to services: the match endpoint and the check a referral runs before it is sent, and the
stored batch runs. The work is done by the modules by job, re-exported here for the callers:

- facts.py: the candidate query (every hard rule in SQL) and the facts scoring reads;
- scoring.py: eligibility and the transparent score (pure);
- funding.py, ledger_funding.py: who pays, through a typed port over procurement and the funds;
- plan.py: the five-society plan;
- batch.py, pairs.py, allocation.py: the batch allocation of a street's or the district's open needs (every
  eligible pair scored over arrays, then the min-cost flow).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock, signals
from marketplace.auth.principal import Principal
from marketplace.cases import service as cases
from marketplace.cases.models import Child, Need
from marketplace.db import Database
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.geography.models import Community
from marketplace.matching import pairs, scoring
from marketplace.matching.candidates import PoolCache, candidates, pool_cache
from marketplace.matching.facts import (
    RECORD_DAYS,
    NeedRow,
    need_facts,
    needs_facts_on,
    provider_records,
    provider_records_on,
    service_columns,
    service_facts,
)
from marketplace.matching.funding import (
    FundingPort,
    FundingSources,
    choose_funding,
    confirm_funding,
    funding_sources,
)
from marketplace.matching.ledger_funding import LedgerFunding
from marketplace.matching.models import MatchingRun
from marketplace.matching.plan import build_plan, plan_context, plan_context_on
from marketplace.matching.scoring import FundingFacts, NeedFacts, ProviderRecord, Scored, ServiceFacts
from marketplace.pagination import fetch_page
from marketplace.resources.models import Service
from marketplace.settings import Settings

MATCHERS = frozenset({"child_director", "child_supervisor", "district_admin"})
OPEN_FOR_MATCHING = frozenset({"open", "matched"})
# The match endpoint confirms funding for this many of the best-scored candidates before the final order.
FUNDING_CHECK_POOL = 30
# Where matching reads the funding available to a need: procurement's contracts and the funds' books.
FUNDING: FundingPort = LedgerFunding()


# ---------------------------------------------------------------- the match endpoint


@dataclass
class Candidate:
    scored: Scored
    plan: dict[str, Any]


def require_matcher(principal: Principal, need_id: int) -> None:
    if principal.role not in MATCHERS:
        if principal.role == "auditor":
            raise Forbidden("审计角色只读 (the auditor changes nothing)")
        raise NotFound(f"需求 {need_id} 不存在 (need not found)")


# The need with what its facts are made of (its child's age, categories, street and community, whose name).
NEED_ROW = (
    select(
        Need.id,
        Need.status,
        Need.category,
        Need.urgency,
        Need.street_id,
        Need.community_id,
        Child.id.label("child_id"),
        Child.birth_date,
        Child.categories.label("child_categories"),
        Child.street_id.label("child_street_id"),
        Child.community_id.label("child_community_id"),
        Community.name.label("community_name"),
    )
    .join(Child, Child.id == Need.child_id)
    .outerjoin(Community, Community.id == Child.community_id)
    .where(Need.id == bindparam("need_id"))
)
RECORD_PERIOD = dt.timedelta(days=RECORD_DAYS)


@dataclass
class MatchRead:
    """What the match endpoint's one read gives: the need's facts, its candidates scored (the best first, with
    the pool whose funding is confirmed) and whether any of the pool could have a payer to look up."""

    facts: NeedFacts
    records: dict[int, ProviderRecord]
    eligible: int
    pool: list[Scored]
    may_pay: bool


def read_match(
    conn: Connection,
    principal: Principal,
    settings: Settings,
    need_id: int,
    limit: int,
    pool: PoolCache,
    seen: signals.Stamp,
    when: tuple[dt.datetime, dt.date, str],
) -> MatchRead:
    """The need (scoped: the principal must see it and may match), its facts and candidates, their providers'
    records and the first scoring, in one transaction on a synchronous connection (``Database.read``)."""
    row = conn.execute(NEED_ROW, {"need_id": need_id}).first()
    if row is None or not cases.can_read(principal, row.community_id, row.street_id):
        raise NotFound(f"需求 {need_id} 不存在 (need not found)")
    require_matcher(principal, need_id)
    if row.status not in OPEN_FOR_MATCHING:
        raise Conflict(f"需求状态为 {row.status}，无需匹配 (need is {row.status})")
    now, today, month = when  # the moment, the district's date and month: read once per request
    need = NeedRow(
        row.id,
        row.category,
        row.urgency,
        row.child_id,
        cases.age_on(row.birth_date, today),
        row.child_categories or (),
        row.child_street_id,
        row.child_community_id,
        row.community_name or "",
    )
    facts = needs_facts_on(conn, [need])[0]
    services = candidates(conn, facts, pool.category(conn, facts.category, seen), month)
    records = provider_records_on(conn, {s.organization_id for s in services}, now - RECORD_PERIOD)
    # Every candidate scored at once over arrays (the same numbers as scoring.score, see pairs.py), best first.
    first = pairs.score_under(settings, [facts], services, records, today=today, scale=1)
    best = sorted(
        zip(first.score.tolist(), first.service.tolist(), strict=True),
        key=lambda sj: (-sj[0], services[sj[1]].service_id),
    )
    chosen = [Scored(service=services[j], score=sc) for sc, j in best[: max(FUNDING_CHECK_POOL, limit)]]
    paid = [s.service for s in chosen if s.service.cost_per_case_fen > 0]
    return MatchRead(facts, records, len(services), chosen, _may_pay(conn, paid, today))


def _may_pay(conn: Connection, paid: list[ServiceFacts], today: dt.date) -> bool:
    if not paid:
        return False
    try:
        return FUNDING.may_pay(conn, paid, today)
    except Exception:
        return True  # the port is asked in full (funding_sources), which logs what fails


async def match_need(
    db: Database, session: AsyncSession, principal: Principal, settings: Settings, need_id: int, limit: int
) -> tuple[int, list[Candidate], int]:
    cache = pool_cache(db)
    seen = cache.fresh()  # before the read's snapshot: what the cache keeps from it is at least this new
    today = clock.today()
    found = await db.read(
        read_match, principal, settings, need_id, limit, cache, seen, (clock.now(), today, clock.month_key())
    )
    facts, records = found.facts, found.records
    args = scoring.weights_args(settings, today)
    # Confirm who pays for the best of them, then score those again with the confirmed funding.
    sources = (
        await funding_sources(session, facts, [s.service for s in found.pool], today, FUNDING)
        if found.may_pay
        else FundingSources()
    )
    confirmed: list[tuple[Scored, FundingFacts, dict[str, Any]]] = []
    for s in found.pool:
        funding, plan_funding = choose_funding(s.service, sources)
        rescored = scoring.score(
            facts, s.service, records[s.service.organization_id], funding, settings.match_weights, explain=False, **args
        )
        confirmed.append((rescored, funding, plan_funding))
    confirmed.sort(key=lambda sp: (-sp[0].score, sp[0].service.service_id))
    # The reasons in words only for the candidates shown.
    top = [
        (
            scoring.score(facts, s.service, records[s.service.organization_id], f, settings.match_weights, **args),
            pf,
        )
        for s, f, pf in confirmed[:limit]
    ]
    ctx = await db.read(plan_context_on, facts, {s.service.organization_id for s, _ in top})
    return facts.need_id, [Candidate(s, build_plan(ctx, facts, s.service, f)) for s, f in top], found.eligible


async def check_pair(
    session: AsyncSession, settings: Settings, need: Need, service_id: int
) -> tuple[NeedFacts, Candidate]:
    """One need against one service with every hard rule; referrals use it before sending."""
    facts = await need_facts(session, need)
    stmt, _ = service_columns(clock.month_key())
    found = await service_facts(session, stmt.where(Service.id == service_id))
    if not found:
        exists_at_all = await session.scalar(select(Service.id).where(Service.id == service_id))
        if exists_at_all is None:
            raise Invalid.field("service_id", f"服务项目 {service_id} 不存在 (service not found)")
        raise Conflict("服务未发布或机构未入库 (service not published or organization not approved)")
    svc = found[0]
    reason = scoring.ineligibility(facts, svc)
    if reason is not None:
        raise Conflict(f"该服务不符合条件：{scoring.INELIGIBLE_REASONS[reason]}", reason=reason)
    today = clock.today()
    records = await provider_records(session, [svc.organization_id])
    funding, plan_funding = await confirm_funding(session, svc, facts, today, FUNDING)
    scored = scoring.score(
        facts,
        svc,
        records[svc.organization_id],
        funding,
        settings.match_weights,
        **scoring.weights_args(settings, today),
    )
    ctx = await plan_context(session, facts, [svc.organization_id])
    return facts, Candidate(scored, build_plan(ctx, facts, svc, plan_funding))


async def get_run(session: AsyncSession, principal: Principal, run_id: int) -> MatchingRun:
    run = await session.get(MatchingRun, run_id)
    visible = run is not None and (
        principal.role in ("district_admin", "auditor")
        or (principal.role == "child_supervisor" and run.street_id is not None and run.street_id == principal.street_id)
    )
    if run is None or not visible:
        raise NotFound(f"匹配批次 {run_id} 不存在 (matching run not found)")
    return run


async def list_runs(
    session: AsyncSession, principal: Principal, *, limit: int, offset: int
) -> tuple[list[MatchingRun], int]:
    stmt = select(MatchingRun)
    if principal.role == "child_supervisor":
        stmt = stmt.where(MatchingRun.street_id == principal.street_id)
    elif principal.role not in ("district_admin", "auditor"):
        raise Forbidden("无权查看匹配批次 (not allowed)")
    return await fetch_page(session, stmt, MatchingRun.id.desc(), limit=limit, offset=offset)
