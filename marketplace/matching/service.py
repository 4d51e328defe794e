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

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.cases import service as cases
from marketplace.cases.models import Need
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.matching import pairs, scoring
from marketplace.matching.facts import candidate_services, need_facts, provider_records, service_columns, service_facts
from marketplace.matching.funding import (
    FundingPort,
    choose_funding,
    confirm_funding,
    funding_sources,
)
from marketplace.matching.ledger_funding import LedgerFunding
from marketplace.matching.models import MatchingRun
from marketplace.matching.plan import build_plan, plan_context
from marketplace.matching.scoring import FundingFacts, NeedFacts, Scored
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


def require_matcher(principal: Principal, need: Need) -> None:
    if principal.role not in MATCHERS:
        if principal.role == "auditor":
            raise Forbidden("审计角色只读 (the auditor changes nothing)")
        raise NotFound(f"需求 {need.id} 不存在 (need not found)")


async def match_need(
    session: AsyncSession, principal: Principal, settings: Settings, need_id: int, limit: int
) -> tuple[Need, list[Candidate], int]:
    need = await cases.visible_need(session, principal, need_id)
    require_matcher(principal, need)
    if need.status not in OPEN_FOR_MATCHING:
        raise Conflict(f"需求状态为 {need.status}，无需匹配 (need is {need.status})")
    facts = await need_facts(session, need)
    month, today = clock.month_key(), clock.today()
    services = await candidate_services(session, facts, month)
    records = await provider_records(session, {s.organization_id for s in services})
    args = scoring.weights_args(settings, today)
    # Every candidate scored at once over arrays (the same numbers as scoring.score, see pairs.py), best first.
    first = pairs.score_under(settings, [facts], services, records, today=today, scale=1)
    best = sorted(
        zip(first.score.tolist(), first.service.tolist(), strict=True),
        key=lambda sj: (-sj[0], services[sj[1]].service_id),
    )
    # Confirm who pays for the best of them, then score those again with the confirmed funding.
    pool = [Scored(service=services[j], score=sc) for sc, j in best[: max(FUNDING_CHECK_POOL, limit)]]
    sources = await funding_sources(session, facts, [s.service for s in pool], today, FUNDING)
    confirmed: list[tuple[Scored, FundingFacts, dict[str, Any]]] = []
    for s in pool:
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
    ctx = await plan_context(session, facts, {s.service.organization_id for s, _ in top})
    return need, [Candidate(s, build_plan(ctx, facts, s.service, f)) for s, f in top], len(services)


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
