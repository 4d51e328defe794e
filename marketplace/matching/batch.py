"""Batch allocation: a street's or the district's open needs shared out over this month's places, so the
most urgent, best-fitting pairs get them (min-cost flow, see allocation.py)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import String, cast, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.auth.principal import Principal
from marketplace.cases.models import Child, Need
from marketplace.cases.service import age_on
from marketplace.errors import Forbidden, Invalid
from marketplace.geography.models import Community, Street
from marketplace.matching import allocation, pairs
from marketplace.matching.facts import NeedRow, needs_facts_of, provider_records, service_columns, service_facts
from marketplace.matching.models import MatchingRun
from marketplace.matching.pairs import IntArray, Pairs
from marketplace.matching.scoring import NeedFacts, ServiceFacts
from marketplace.resources.models import Service
from marketplace.settings import Settings

# Gains are integers for the solver: urgency x score, in units of 1/SCALE.
SCALE = 10_000


@dataclass
class BatchProblem:
    needs: list[NeedFacts]  # by need id
    services: list[ServiceFacts]  # by service id
    pairs: Pairs  # the eligible pairs, positions into needs and services

    @property
    def capacity(self) -> IntArray:
        return np.array([s.capacity_left for s in self.services], dtype=np.int64)


async def load_batch(session: AsyncSession, settings: Settings, street_id: int | None) -> BatchProblem:
    """The open needs (of the street, or all), the services with places left this month and every eligible
    pair scored: a few Core queries, then the pairs over arrays (pairs.py)."""
    stmt = (
        select(
            Need.id,
            Need.category,
            Need.urgency,
            Child.id,
            Child.birth_date,
            cast(Child.categories, String),
            Child.street_id,
            Child.community_id,
            Community.name,
        )
        .join(Child, Child.id == Need.child_id)
        .join(Community, Community.id == Child.community_id)
        .where(Need.status == "open", Child.status == "active")
        .order_by(Need.id)
    )
    if street_id is not None:
        stmt = stmt.where(Need.street_id == street_id)
    today = clock.today()
    # A child's categories come as the JSON text: the few distinct lists are parsed once each.
    kinds: dict[str, frozenset[str]] = {}
    rows = []
    for need_id, category, urgency, child_id, birth, raw, street, community, name in await session.execute(stmt):
        kids = kinds.get(raw)
        if kids is None:
            kids = kinds[raw] = frozenset(json.loads(raw) if raw else ())
        rows.append(NeedRow(need_id, category, urgency, child_id, age_on(birth, today), kids, street, community, name))
    needs = await needs_facts_of(session, rows)
    base, left = service_columns(clock.month_key())
    services = await service_facts(session, base.where(left > 0).order_by(Service.id))
    records = await provider_records(session, {s.organization_id for s in services})
    # Batch scoring uses the provider's declared funding: confirming a payer per pair would cost a query per
    # pair, and the referral confirms it when it is sent.
    found = pairs.score_under(settings, needs, services, records, today=today, scale=SCALE)
    return BatchProblem(needs, services, found)


def solve(problem: BatchProblem) -> tuple[allocation.PairAllocation, list[dict[str, Any]], list[dict[str, Any]]]:
    p = problem.pairs
    result = allocation.allocate_pairs(len(problem.needs), p.need, p.service, p.gain, problem.capacity)
    chosen = result.service_of[p.need] == p.service
    score_of = dict(zip(p.need[chosen].tolist(), p.score[chosen].tolist(), strict=True))
    with_edges = np.zeros(len(problem.needs), dtype=np.bool_)
    with_edges[p.need] = True
    assignments = []
    unassigned = []
    for i, (need, j) in enumerate(zip(problem.needs, result.service_of.tolist(), strict=True)):
        if j >= 0:
            score = score_of[i]
            assignments.append(
                {
                    "need_id": need.need_id,
                    "service_id": problem.services[j].service_id,
                    "score": score,
                    "weighted_score": round(need.urgency * score, 6),
                }
            )
        else:
            edges = bool(with_edges[i])
            unassigned.append(
                {
                    "need_id": need.need_id,
                    "urgency": need.urgency,
                    "reason": "capacity_exhausted" if edges else "no_eligible_service",
                    "reason_label": "名额已被更优先的需求占用" if edges else "没有符合条件的服务",
                }
            )
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
