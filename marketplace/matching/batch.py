"""Batch allocation: a street's or the district's open needs shared out over this month's places, so the
most urgent, best-fitting pairs get them (min-cost flow, see allocation.py)."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.cases.models import Child, Need
from marketplace.errors import Forbidden, Invalid
from marketplace.geography.models import Community, Street
from marketplace.matching import allocation, scoring
from marketplace.matching.facts import needs_facts, provider_records, service_columns, service_facts
from marketplace.matching.models import MatchingRun
from marketplace.matching.scoring import NeedFacts, ServiceFacts
from marketplace.settings import Settings

# Gains are integers for the solver: urgency x score, in units of 1/SCALE.
SCALE = 10_000


@dataclass
class BatchProblem:
    needs: list[NeedFacts]
    services: list[ServiceFacts]
    gains: dict[tuple[int, int], int]
    scores: dict[tuple[int, int], float]


async def load_batch(session: AsyncSession, settings: Settings, street_id: int | None) -> BatchProblem:
    stmt = (
        select(Need, Child, Community.name)
        .join(Child, Child.id == Need.child_id)
        .join(Community, Community.id == Child.community_id)
        .where(Need.status == "open", Child.status == "active")
        .order_by(Need.id)
    )
    if street_id is not None:
        stmt = stmt.where(Need.street_id == street_id)
    rows = [(n, c, name) for n, c, name in (await session.execute(stmt))]
    needs = await needs_facts(session, rows)
    base, left = service_columns(clock.month_key())
    services = await service_facts(session, base.where(left > 0))
    records = await provider_records(session, {s.organization_id for s in services})
    by_category: dict[str, list[ServiceFacts]] = defaultdict(list)
    for s in services:
        for c in s.categories:
            by_category[c].append(s)
    args = scoring.weights_args(settings, clock.today())
    gains: dict[tuple[int, int], int] = {}
    scores: dict[tuple[int, int], float] = {}
    for need in needs:
        for s in by_category.get(need.category, []):
            if scoring.ineligibility(need, s) is not None:
                continue
            # Batch scoring uses the provider's declared funding: confirming a payer per pair would cost a
            # query per pair, and the referral confirms it when it is sent.
            sc = scoring.score(
                need, s, records[s.organization_id], scoring.declared_funding(s), settings.match_weights, **args
            )
            scores[(need.need_id, s.service_id)] = sc.score
            gains[(need.need_id, s.service_id)] = max(1, round(need.urgency * sc.score * SCALE))
    return BatchProblem(needs, services, gains, scores)


def solve(problem: BatchProblem) -> tuple[allocation.Allocation, list[dict[str, Any]], list[dict[str, Any]]]:
    ids = [n.need_id for n in problem.needs]
    capacity = {s.service_id: s.capacity_left for s in problem.services}
    result = allocation.allocate(ids, problem.gains, capacity)
    with_edges = {n for n, _ in problem.gains}
    urgency = {n.need_id: n.urgency for n in problem.needs}
    assignments = [
        {
            "need_id": n,
            "service_id": s,
            "score": problem.scores[(n, s)],
            "weighted_score": round(urgency[n] * problem.scores[(n, s)], 6),
        }
        for n, s in sorted(result.assignments.items())
    ]
    unassigned = [
        {
            "need_id": n,
            "urgency": urgency[n],
            "reason": "capacity_exhausted" if n in with_edges else "no_eligible_service",
            "reason_label": "名额已被更优先的需求占用" if n in with_edges else "没有符合条件的服务",
        }
        for n in ids
        if n not in result.assignments
    ]
    return result, assignments, unassigned


async def run_batch(
    session: AsyncSession, principal: Principal, settings: Settings, street_id: int | None
) -> MatchingRun:
    if principal.role == "child_supervisor":
        if street_id is None:
            street_id = principal.street_id
        if street_id != principal.street_id:
            raise Forbidden("督导员只能为本街道运行匹配 (a supervisor runs matching for their own street)")
    elif principal.role != "district_admin":
        raise Forbidden("仅区民政或街道督导员可运行批量匹配 (district admin or the street's supervisor only)")
    if street_id is not None and await session.get(Street, street_id) is None:
        raise Invalid.field("street_id", f"街道 {street_id} 不存在 (unknown street)")
    started = time.perf_counter()
    problem = await load_batch(session, settings, street_id)
    result, assignments, unassigned = solve(problem)
    run = MatchingRun(
        street_id=street_id,
        created_by=principal.user_id,
        month=clock.month_key(),
        needs_count=len(problem.needs),
        services_count=len(problem.services),
        total_score=round(sum(a["weighted_score"] for a in assignments), 6),
        optimal=result.optimal,
        duration_ms=int((time.perf_counter() - started) * 1000),
        assignments=assignments,
        unassigned=unassigned,
    )
    session.add(run)
    await session.flush()
    return run
