"""Matching a need to services: hard eligibility in SQL (Core, the hot path), the transparent score, the
five-society plan, and the batch allocation of a street's or the district's open needs."""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, false, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from marketplace import clock
from marketplace.auth.models import User
from marketplace.auth.principal import Principal
from marketplace.cases import service as cases
from marketplace.cases.models import Child, Need
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.geography.models import Community, Street
from marketplace.matching import allocation, scoring
from marketplace.matching.models import MatchingRun
from marketplace.matching.scoring import FundingFacts, NeedFacts, ProviderRecord, Scored, ServiceFacts
from marketplace.pagination import fetch_page
from marketplace.referrals.models import Referral
from marketplace.resources.models import (
    Organization,
    OrganizationStreet,
    Service,
    ServiceCapacity,
    ServiceCategory,
    ServiceChildCategory,
    ServiceStreet,
    SocialWorker,
    VolunteerTeam,
)
from marketplace.settings import Settings

log = logging.getLogger("marketplace.matching")

MATCHERS = frozenset({"child_director", "child_supervisor", "district_admin"})
OPEN_FOR_MATCHING = frozenset({"open", "referred"})
# Statuses in which a provider is serving the child now (continuity) or has finished (history).
SERVING = ("accepted", "in_service")
FINISHED = ("completed", "closed")
QUALIFICATION_RANK = {"高级社会工作师": 3, "社会工作师": 2, "助理社会工作师": 1}
# The match endpoint confirms funding for this many of the best-scored candidates before the final order.
FUNDING_CHECK_POOL = 30
SCALE = 10_000


# ---------------------------------------------------------------- loading facts


async def need_facts(session: AsyncSession, need: Need) -> NeedFacts:
    child = await session.get(Child, need.child_id)
    if child is None:  # pragma: no cover - FK guarantees it
        raise NotFound(f"儿童档案 {need.child_id} 不存在")
    community = await session.get(Community, child.community_id)
    facts = await _needs_facts(session, [(need, child, community.name if community else "")])
    return facts[0]


async def _needs_facts(session: AsyncSession, rows: Sequence[tuple[Need, Child, str]]) -> list[NeedFacts]:
    child_ids = sorted({c.id for _, c, _ in rows})
    declined: dict[int, set[int]] = defaultdict(set)
    current: dict[int, set[int]] = defaultdict(set)
    helped: dict[int, set[int]] = defaultdict(set)
    for chunk in _chunks(child_ids, 900):
        result = await session.execute(
            select(Referral.child_id, Referral.service_id, Referral.organization_id, Referral.status, Referral.outcome)
            .where(Referral.child_id.in_(chunk))
            .where(Referral.status.in_(("declined", *SERVING, *FINISHED)))
        )
        for child_id, service_id, org_id, status, outcome in result:
            if status == "declined":
                declined[child_id].add(service_id)
            elif status in SERVING:
                current[child_id].add(org_id)
            elif outcome in ("got_help", "partially_helped"):
                helped[child_id].add(org_id)
    today = clock.today()
    return [
        NeedFacts(
            need_id=need.id,
            child_id=child.id,
            category=need.category,
            urgency=need.urgency,
            age=cases.age_on(child.birth_date, today),
            child_categories=frozenset(child.categories),
            street_id=child.street_id,
            community_id=child.community_id,
            community_name=community_name,
            declined_services=frozenset(declined[child.id]),
            current_orgs=frozenset(current[child.id]),
            helped_orgs=frozenset(helped[child.id]),
        )
        for need, child, community_name in rows
    ]


def _chunks(values: Sequence[int], size: int) -> Iterable[Sequence[int]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _booked(month: str) -> Any:
    return (
        select(ServiceCapacity.booked)
        .where(ServiceCapacity.service_id == Service.id, ServiceCapacity.month == month)
        .correlate(Service)
        .scalar_subquery()
    )


def _service_columns(month: str) -> Any:
    left = (Service.capacity_per_month - func.coalesce(_booked(month), 0)).label("capacity_left")
    return (
        select(
            Service.id,
            Service.organization_id,
            Service.title,
            Organization.name.label("organization_name"),
            Organization.address.label("organization_address"),
            Service.age_min,
            Service.age_max,
            Service.district_wide,
            Service.capacity_per_month,
            left,
            Service.cost_per_case_fen,
            Service.funding_source,
            Service.delivery_mode,
            Service.assured_on,
        )
        .join(Organization, Organization.id == Service.organization_id)
        .where(Service.status == "published", Organization.status == "approved")
    ), left


async def _service_facts(session: AsyncSession, stmt: Any) -> list[ServiceFacts]:
    base = (await session.execute(stmt)).all()
    if not base:
        return []
    ids = [r.id for r in base]
    cats: dict[int, set[str]] = defaultdict(set)
    kids: dict[int, set[str]] = defaultdict(set)
    streets: dict[int, set[int]] = defaultdict(set)
    org_streets: dict[int, set[int]] = defaultdict(set)
    org_ids = sorted({r.organization_id for r in base})
    for chunk in _chunks(ids, 900):
        for sid, code in await session.execute(
            select(ServiceCategory.service_id, ServiceCategory.code).where(ServiceCategory.service_id.in_(chunk))
        ):
            cats[sid].add(code)
        for sid, code in await session.execute(
            select(ServiceChildCategory.service_id, ServiceChildCategory.code).where(
                ServiceChildCategory.service_id.in_(chunk)
            )
        ):
            kids[sid].add(code)
        for sid, street in await session.execute(
            select(ServiceStreet.service_id, ServiceStreet.street_id).where(ServiceStreet.service_id.in_(chunk))
        ):
            streets[sid].add(street)
    for chunk in _chunks(org_ids, 900):
        for oid, street in await session.execute(
            select(OrganizationStreet.organization_id, OrganizationStreet.street_id).where(
                OrganizationStreet.organization_id.in_(chunk)
            )
        ):
            org_streets[oid].add(street)
    return [
        ServiceFacts(
            service_id=r.id,
            organization_id=r.organization_id,
            title=r.title,
            organization_name=r.organization_name,
            organization_address=r.organization_address or "",
            organization_streets=frozenset(org_streets[r.organization_id]),
            categories=frozenset(cats[r.id]),
            child_categories=frozenset(kids[r.id]),
            age_min=r.age_min,
            age_max=r.age_max,
            district_wide=bool(r.district_wide),
            street_ids=frozenset(streets[r.id]),
            capacity_per_month=r.capacity_per_month,
            capacity_left=max(0, int(r.capacity_left)),
            cost_per_case_fen=r.cost_per_case_fen,
            funding_source=r.funding_source,
            delivery_mode=r.delivery_mode,
            assured_on=r.assured_on,
        )
        for r in base
    ]


async def candidate_services(session: AsyncSession, need: NeedFacts, month: str) -> list[ServiceFacts]:
    """Every hard rule as SQL, so only eligible services leave the database."""
    stmt, left = _service_columns(month)
    kids = list(need.child_categories)
    stmt = stmt.where(
        exists().where(ServiceCategory.service_id == Service.id, ServiceCategory.code == need.category),
        Service.age_min <= need.age,
        Service.age_max >= need.age,
        or_(
            not_(exists().where(ServiceChildCategory.service_id == Service.id)),
            exists().where(ServiceChildCategory.service_id == Service.id, ServiceChildCategory.code.in_(kids))
            if kids
            else false(),
        ),
        or_(
            Service.district_wide.is_(True),
            exists().where(ServiceStreet.service_id == Service.id, ServiceStreet.street_id == need.street_id),
        ),
        left > 0,
    )
    if need.declined_services:
        stmt = stmt.where(Service.id.not_in(sorted(need.declined_services)))
    facts = await _service_facts(session, stmt)
    # The same rules again in Python: one definition (scoring.ineligibility) is the reference.
    return [s for s in facts if scoring.ineligibility(need, s) is None]


async def provider_records(session: AsyncSession, org_ids: Iterable[int]) -> dict[int, ProviderRecord]:
    ids = sorted(set(org_ids))
    since = clock.now() - dt.timedelta(days=365)
    counts: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    hours: dict[int, list[float]] = defaultdict(list)
    for chunk in _chunks(ids, 900):
        result = await session.execute(
            select(
                Referral.organization_id,
                Referral.status,
                Referral.outcome,
                Referral.sent_at,
                Referral.accepted_at,
                Referral.declined_at,
            ).where(Referral.organization_id.in_(chunk), Referral.sent_at >= since)
        )
        for org_id, status, outcome, sent_at, accepted_at, declined_at in result:
            c = counts[org_id]
            answered = accepted_at or declined_at
            if answered is not None and sent_at is not None:
                hours[org_id].append((answered - sent_at).total_seconds() / 3600.0)
            if status in FINISHED:
                c["finished"] += 1
                c["got_help"] += {"got_help": 1.0, "partially_helped": 0.5}.get(outcome or "", 0.0)
            elif status == "declined" or (status == "revoked" and accepted_at is not None):
                c["dropped"] += 1
    return {
        org_id: ProviderRecord(
            responded=len(hours[org_id]),
            mean_response_hours=sum(hours[org_id]) / len(hours[org_id]) if hours[org_id] else 0.0,
            finished=int(counts[org_id]["finished"]),
            dropped=int(counts[org_id]["dropped"]),
            got_help=counts[org_id]["got_help"],
        )
        for org_id in ids
    }


# ---------------------------------------------------------------- funding and the five-society plan


def _optional(module: str, name: str) -> Callable[..., Any] | None:
    """Another feature's function, if that feature is installed; matching works without it."""
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return None
    fn = getattr(mod, name, None)
    return fn if callable(fn) else None


def _get(obj: Any, *names: str) -> Any:
    for name in names:
        value = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
        if value is not None:
            return value
    return None


async def _maybe_await(value: Any) -> Any:
    if hasattr(value, "__await__"):
        return await value
    return value


@dataclass
class FundingSources:
    """Every payer that could cover the pool's candidates for one need, read with a few queries for the
    whole pool rather than a few per candidate."""

    contracts: dict[int, list[Any]]  # organization id -> covering contracts, in procurement's order
    offers: list[Any]  # fund money for the need's category, street and the unrestricted purpose
    service_offers: dict[int, list[Any]]  # service id -> offers that include money designated to that service


async def _call_optional(module: str, name: str, what: str, **kwargs: Any) -> list[Any] | None:
    fn = _optional(module, name)
    if fn is None:
        return None
    try:
        return list(await _maybe_await(fn(**kwargs)) or [])
    except Exception:
        log.exception("%s failed; matching continues without %s", name, what)
        return None


async def _orgs_with_contracts(session: AsyncSession, org_ids: Sequence[int], on: dt.date) -> set[int]:
    """The organizations that hold any contract in force on the day: only they can have one covering a need."""
    try:
        from marketplace.procurement.models import Contract
    except ImportError:  # pragma: no cover - procurement not installed
        return set()
    found: set[int] = set()
    for chunk in _chunks(sorted(set(org_ids)), 900):
        rows = await session.scalars(
            select(Contract.organization_id)
            .where(
                Contract.organization_id.in_(chunk),
                Contract.status == "active",
                Contract.starts_on <= on,
                Contract.ends_on >= on,
            )
            .distinct()
        )
        found.update(rows.all())
    return found


async def _services_with_designated_money(session: AsyncSession, service_ids: Sequence[int]) -> set[int]:
    """Services some donor designated money to (a ``fund:F:income:service:<id>`` account exists)."""
    try:
        from marketplace.funds.models import LedgerAccount
    except ImportError:  # pragma: no cover - funds not installed
        return set()
    wanted = set(service_ids)
    if not wanted:
        return set()
    codes = await session.scalars(select(LedgerAccount.code).where(LedgerAccount.code.like("fund:%:income:service:%")))
    found = set()
    for code in codes.all():
        tail = code.rpartition(":")[2]
        if tail.isdigit() and int(tail) in wanted:
            found.add(int(tail))
    return found


async def funding_sources(
    session: AsyncSession, need: NeedFacts, services: Sequence[ServiceFacts], on: dt.date
) -> FundingSources:
    paid = [s for s in services if s.cost_per_case_fen > 0]
    sources = FundingSources({}, [], {})
    if not paid:
        return sources
    for org_id in sorted(await _orgs_with_contracts(session, [s.organization_id for s in paid], on)):
        found = await _call_optional(
            "marketplace.procurement.service",
            "contracts_covering",
            "contract funding",
            session=session,
            organization_id=org_id,
            category=need.category,
            on=on,
        )
        if found:
            sources.contracts[org_id] = found
    offers = await _call_optional(
        "marketplace.funds.service",
        "funding_available",
        "fund money",
        session=session,
        category=need.category,
        street_id=need.street_id,
        service_id=None,
    )
    sources.offers = offers or []
    if offers is not None:
        for service_id in sorted(await _services_with_designated_money(session, [s.service_id for s in paid])):
            sources.service_offers[service_id] = (
                await _call_optional(
                    "marketplace.funds.service",
                    "funding_available",
                    "fund money",
                    session=session,
                    category=need.category,
                    street_id=need.street_id,
                    service_id=service_id,
                )
                or []
            )
    return sources


def choose_funding(svc: ServiceFacts, sources: FundingSources) -> tuple[FundingFacts, dict[str, Any]]:
    """Who pays for one case: free, else a purchase contract with money left for it, else a restricted
    donation, else the unrestricted fund; else what the provider declared. A payer that has less than the
    case costs is offered only when no payer covers it all, and never for more than it has."""
    cost = svc.cost_per_case_fen
    if cost == 0:
        return FundingFacts("free", 0, True), {"source": "free", "covered_fen": 0, "cost_fen": 0, "label": "免费"}
    for contract in sources.contracts.get(svc.organization_id, []):
        contract_id = _get(contract, "contract_id", "id")
        remaining = _get(contract, "remaining_fen")
        if contract_id is None or (remaining is not None and int(remaining) < cost):
            continue  # a contract whose unpaid amount cannot pay for this case is no payer for it
        return FundingFacts("contract", cost, True), {
            "source": "contract",
            "contract_id": int(contract_id),
            "contract_title": str(_get(contract, "title") or ""),
            "covered_fen": cost,
            "cost_fen": cost,
            "label": "政府购买服务合同",
        }
    usable = []
    offers = sources.service_offers.get(svc.service_id, sources.offers)
    for order, offer in enumerate(offers):
        available = int(_get(offer, "available_fen") or 0)
        fund_id = _get(offer, "fund_id")
        flag = offer.get("restricted") if isinstance(offer, dict) else getattr(offer, "restricted", None)
        purpose = str(_get(offer, "purpose") or "")
        restricted = flag if isinstance(flag, bool) else purpose not in ("", "unrestricted", "general")
        if available > 0 and fund_id is not None:
            # A purse that covers the whole case first; then restricted money meant for this before the
            # unrestricted fund, in the fund's own order of specificity.
            usable.append((available < cost, not restricted, order, int(fund_id), available, restricted, purpose))
    if usable:
        usable.sort()
        _, _, _, fund_id, available, restricted, purpose = usable[0]
        covered = min(available, cost)
        source = "restricted_donation" if restricted else "unrestricted_fund"
        label = "定向捐赠" if restricted else "公益基金（非定向）"
        return FundingFacts(source, covered, True), {
            "source": source,
            "fund_id": fund_id,
            "purpose": purpose or "unrestricted",
            "covered_fen": covered,
            "cost_fen": cost,
            "label": label if covered >= cost else f"{label}（仅覆盖部分费用）",
        }
    declared = scoring.declared_funding(svc)
    if declared.source == "self_funded":
        return declared, {"source": "self_funded", "covered_fen": cost, "cost_fen": cost, "label": "机构自筹"}
    return declared, {
        "source": "unfunded" if declared.source == "unfunded" else f"declared:{declared.source}",
        "covered_fen": 0,
        "cost_fen": cost,
        "label": "尚无确认的资金来源",
    }


async def confirm_funding(
    session: AsyncSession, svc: ServiceFacts, need: NeedFacts, on: dt.date
) -> tuple[FundingFacts, dict[str, Any]]:
    """Who pays for one case (see choose_funding)."""
    return choose_funding(svc, await funding_sources(session, need, [svc], on))


@dataclass
class PlanContext:
    """Lookups shared by all candidates of one request."""

    community: dict[str, Any]
    volunteers: dict[str, Any] | None
    workers: dict[int, list[tuple[SocialWorker, int]]]


async def plan_context(session: AsyncSession, need: NeedFacts, org_ids: Iterable[int]) -> PlanContext:
    community = await session.get(Community, need.community_id)
    director = await session.execute(
        select(User.id, User.display_name)
        .where(User.role == "child_director", User.community_id == need.community_id, User.is_active.is_(True))
        .order_by(User.id)
        .limit(1)
    )
    d = director.first()
    teams = list(
        (
            await session.scalars(
                select(VolunteerTeam)
                .where(VolunteerTeam.street_id == need.street_id, VolunteerTeam.active.is_(True))
                .order_by(VolunteerTeam.id)
            )
        ).all()
    )
    team = None
    if teams:
        teams.sort(key=lambda t: (need.category not in (t.skills or []), -t.member_count, t.id))
        t = teams[0]
        team = {"id": t.id, "name": t.name, "member_count": t.member_count, "contact_name": t.contact_name}
    ids = sorted(set(org_ids))
    workers: dict[int, list[tuple[SocialWorker, int]]] = defaultdict(list)
    if ids:
        rows = list(
            (
                await session.scalars(
                    select(SocialWorker).where(SocialWorker.organization_id.in_(ids), SocialWorker.active.is_(True))
                )
            ).all()
        )
        load = dict(
            (
                await session.execute(
                    select(Referral.social_worker_id, func.count())
                    .where(
                        Referral.social_worker_id.in_([w.id for w in rows] or [0]),
                        Referral.status.in_(("sent", *SERVING)),
                    )
                    .group_by(Referral.social_worker_id)
                )
            ).all()
        )
        for w in rows:
            workers[w.organization_id].append((w, int(load.get(w.id, 0))))
    return PlanContext(
        community={
            "id": need.community_id,
            "name": community.name if community else "",
            "director": {"user_id": d.id, "name": d.display_name} if d else None,
        },
        volunteers=team,
        workers=workers,
    )


def pick_social_worker(ctx: PlanContext, need: NeedFacts, organization_id: int) -> dict[str, Any] | None:
    """The least-loaded qualified worker of the provider for this category, better qualified first."""
    fits = [
        (w, load)
        for w, load in ctx.workers.get(organization_id, [])
        if need.category in (w.specialties or []) and load < w.max_caseload
    ]
    if not fits:
        return None
    fits.sort(
        key=lambda wl: (
            bool(wl[0].street_ids) and need.street_id not in wl[0].street_ids,
            wl[1],
            -QUALIFICATION_RANK.get(wl[0].qualification, 0),
            wl[0].id,
        )
    )
    w, load = fits[0]
    return {"id": w.id, "name": w.name, "qualification": w.qualification, "caseload": load}


def build_plan(ctx: PlanContext, need: NeedFacts, svc: ServiceFacts, funding: dict[str, Any]) -> dict[str, Any]:
    return {
        "community": ctx.community,
        "organization": {"id": svc.organization_id, "name": svc.organization_name},
        "social_worker": pick_social_worker(ctx, need, svc.organization_id),
        "volunteers": ctx.volunteers,
        "funding": funding,
    }


# ---------------------------------------------------------------- the match endpoint


def _weights_args(settings: Settings, today: dt.date) -> dict[str, Any]:
    return {"today": today, "stale_days": settings.stale_listing_days, "sla_hours": settings.referral_sla_hours}


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
    args = _weights_args(settings, today)
    first = scoring.rank(
        [
            scoring.score(
                facts, s, records[s.organization_id], scoring.declared_funding(s), settings.match_weights, **args
            )
            for s in services
        ]
    )
    # Confirm who pays for the best of them, then score those again with the confirmed funding.
    pool = first[: max(FUNDING_CHECK_POOL, limit)]
    sources = await funding_sources(session, facts, [s.service for s in pool], today)
    confirmed: list[tuple[Scored, dict[str, Any]]] = []
    for s in pool:
        funding, plan_funding = choose_funding(s.service, sources)
        rescored = scoring.score(
            facts, s.service, records[s.service.organization_id], funding, settings.match_weights, **args
        )
        confirmed.append((rescored, plan_funding))
    confirmed.sort(key=lambda sp: (-sp[0].score, sp[0].service.service_id))
    top = confirmed[:limit]
    ctx = await plan_context(session, facts, {s.service.organization_id for s, _ in top})
    return need, [Candidate(s, build_plan(ctx, facts, s.service, f)) for s, f in top], len(services)


async def check_pair(
    session: AsyncSession, settings: Settings, need: Need, service_id: int
) -> tuple[NeedFacts, Candidate]:
    """One need against one service with every hard rule; referrals use it before sending."""
    facts = await need_facts(session, need)
    stmt, _ = _service_columns(clock.month_key())
    found = await _service_facts(session, stmt.where(Service.id == service_id))
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
    funding, plan_funding = await confirm_funding(session, svc, facts, today)
    scored = scoring.score(
        facts, svc, records[svc.organization_id], funding, settings.match_weights, **_weights_args(settings, today)
    )
    ctx = await plan_context(session, facts, [svc.organization_id])
    return facts, Candidate(scored, build_plan(ctx, facts, svc, plan_funding))


# ---------------------------------------------------------------- batch allocation


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
    needs = await _needs_facts(session, rows)
    base, left = _service_columns(clock.month_key())
    services = await _service_facts(session, base.where(left > 0))
    records = await provider_records(session, {s.organization_id for s in services})
    by_category: dict[str, list[ServiceFacts]] = defaultdict(list)
    for s in services:
        for c in s.categories:
            by_category[c].append(s)
    args = _weights_args(settings, clock.today())
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
