"""Eligibility and the transparent score: pure functions over plain rows, shared by the match endpoint,
referrals and the batch allocation, so all three judge a pair the same way."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from marketplace.settings import MatchWeights, Settings

# Providers with no history start at this neutral value; PRIOR_WEIGHT pseudo-referrals pull small samples
# towards it, so one lucky (or unlucky) referral does not decide a provider's standing.
NEUTRAL = 0.5
PRIOR_WEIGHT = 3.0
FRESH_DAYS = 30
# Above this cost a service without confirmed funding scores nothing on the cost side (5,000 yuan).
EXPENSIVE_FEN = 500_000
REMOTE_MODES = frozenset({"online", "phone"})
# Declared funding sources that mean the family does not pay even before a payer is confirmed.
DECLARED_FUNDED = frozenset({"special_budget", "welfare_fund", "micro_project", "lottery_fund", "enterprise_csr"})


@dataclass(frozen=True, slots=True)
class NeedFacts:
    need_id: int
    child_id: int
    category: str
    urgency: int
    age: int
    child_categories: frozenset[str]
    street_id: int
    community_id: int
    community_name: str
    declined_services: frozenset[int] = frozenset()
    current_orgs: frozenset[int] = frozenset()
    helped_orgs: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class ServiceFacts:
    service_id: int
    organization_id: int
    title: str
    organization_name: str
    organization_address: str
    organization_streets: frozenset[int]
    categories: frozenset[str]
    child_categories: frozenset[str]
    age_min: int
    age_max: int
    district_wide: bool
    street_ids: frozenset[int]
    capacity_per_month: int
    capacity_left: int
    cost_per_case_fen: int
    funding_source: str
    delivery_mode: str
    assured_on: dt.date | None
    published: bool = True
    organization_approved: bool = True


@dataclass(frozen=True, slots=True)
class ProviderRecord:
    responded: int = 0
    mean_response_hours: float = 0.0
    finished: int = 0
    dropped: int = 0
    got_help: float = 0.0


@dataclass(frozen=True, slots=True)
class FundingFacts:
    """What pays for a case: confirmed (a contract or the fund) or only declared by the provider."""

    source: str
    covered_fen: int
    confirmed: bool


@dataclass
class Scored:
    service: ServiceFacts
    score: float
    components: dict[str, float] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)


INELIGIBLE_REASONS = {
    "not_published": "服务未发布 (service not published)",
    "organization_not_approved": "机构未入库 (organization not approved)",
    "category": "服务类别不符 (service does not cover this category)",
    "age": "儿童年龄不在服务范围内 (child's age out of range)",
    "child_category": "服务对象不含该儿童类别 (service does not accept the child's categories)",
    "street": "服务未覆盖该街道 (street not covered)",
    "capacity": "本月名额已满 (no capacity left this month)",
    "declined_before": "该机构曾拒绝此儿童的该服务 (declined this child before)",
}


def ineligibility(need: NeedFacts, svc: ServiceFacts) -> str | None:
    """The first hard rule the pair breaks, or None when the service may be offered."""
    if not svc.published:
        return "not_published"
    if not svc.organization_approved:
        return "organization_not_approved"
    if need.category not in svc.categories:
        return "category"
    if not svc.age_min <= need.age <= svc.age_max:
        return "age"
    if svc.child_categories and not (svc.child_categories & need.child_categories):
        return "child_category"
    if not svc.district_wide and need.street_id not in svc.street_ids:
        return "street"
    if svc.capacity_left <= 0:
        return "capacity"
    if svc.service_id in need.declined_services:
        return "declined_before"
    return None


def declared_funding(svc: ServiceFacts) -> FundingFacts:
    if svc.cost_per_case_fen == 0:
        return FundingFacts("free", 0, True)
    if svc.funding_source == "self_funded":
        return FundingFacts("self_funded", svc.cost_per_case_fen, True)
    if svc.funding_source in DECLARED_FUNDED:
        return FundingFacts(svc.funding_source, svc.cost_per_case_fen, False)
    return FundingFacts("unfunded", 0, False)


def weights_args(settings: Settings, today: dt.date) -> dict[str, Any]:
    """The keyword arguments of ``score`` that come from the settings and the day."""
    return {
        "today": today,
        "stale_days": settings.stale_listing_days,
        "sla_hours": settings.deadlines.standard_accept_hours,
    }


def _smoothed(successes: float, n: float) -> float:
    return (successes + NEUTRAL * PRIOR_WEIGHT) / (n + PRIOR_WEIGHT)


def score(
    need: NeedFacts,
    svc: ServiceFacts,
    record: ProviderRecord,
    funding: FundingFacts,
    weights: MatchWeights,
    *,
    today: dt.date,
    stale_days: int,
    sla_hours: int,
    explain: bool = True,
) -> Scored:
    """The pair's score with its components and, when ``explain``, the reasons in words (ranking many
    candidates needs only the number: the words are written for the ones shown)."""
    comp: dict[str, float] = {}
    why: list[str] = []

    # Category fit: a specialised service (few categories) and one aimed at this kind of child fit best.
    specificity = max(0.4, 1.0 - 0.15 * (len(svc.categories) - 1))
    targeted = 1.0 if svc.child_categories & need.child_categories else 0.6
    comp["category_fit"] = 0.6 * specificity + 0.4 * targeted
    if explain:
        why.append(
            f"类别匹配：服务涵盖{len(svc.categories)}个类别"
            + ("，专门面向此类儿童" if targeted == 1.0 else "，面向所有儿童")
            + " (category fit)"
        )

    if need.community_name and need.community_name in svc.organization_address:
        locality, where = 1.0, "机构位于本社区"
    elif not svc.district_wide or need.street_id in svc.organization_streets:
        locality, where = 0.7, "机构/服务覆盖本街道"
    else:
        locality, where = 0.4, "全区服务"
    if svc.delivery_mode in REMOTE_MODES and locality < 0.7:
        locality, where = 0.7, "线上/电话服务，距离不影响"
    comp["locality"] = locality
    if explain:
        why.append(f"就近：{where} (locality)")

    comp["provider_record"] = record_component(record, sla_hours)
    if not explain:
        pass
    elif record.responded or record.finished:
        why.append(
            f"机构记录：平均{record.mean_response_hours:.0f}小时响应，完成{record.finished}例，"
            f"其中{record.got_help:.0f}例儿童得到帮助 (provider record)"
        )
    else:
        why.append("机构记录：新机构，按中性值计 (new provider: neutral prior)")

    comp["freshness"] = freshness_component(svc, today, stale_days)
    if explain:
        if svc.assured_on is None:
            why.append("信息时效：信息从未确认 (listing freshness)")
        else:
            why.append(f"信息时效：{(today - svc.assured_on).days}天前确认 (listing freshness)")

    comp["funding"] = funding_component(svc, funding)
    if explain:
        why.append(f"费用与资金：{_funding_note(svc.cost_per_case_fen, funding)} (cost and funding)")

    if svc.organization_id in need.current_orgs:
        cont, note = 1.0, "该儿童正在接受本机构服务"
    elif svc.organization_id in need.helped_orgs:
        cont, note = 0.6, "本机构曾帮助过该儿童"
    else:
        cont, note = 0.0, "无既往服务关系"
    comp["continuity"] = cont
    if explain:
        why.append(f"服务连续性：{note} (continuity)")

    comp["capacity"] = capacity_component(svc)
    if explain:
        why.append(f"剩余名额：本月{svc.capacity_left}/{svc.capacity_per_month} (capacity left)")

    total = weighted(comp, weights)
    if not explain:
        return Scored(service=svc, score=round(total, 6), components=comp)
    return Scored(
        service=svc,
        score=round(total, 6),
        components={k: round(v, 4) for k, v in comp.items()},
        reasons=why,
    )


# The components that depend on the service (and its provider) alone; the batch computes them once per
# service (pairs.py) and scoring.score per pair, from the same functions.


def record_component(record: ProviderRecord, sla_hours: int) -> float:
    window = 2.0 * sla_hours
    speed = max(0.0, 1.0 - min(record.mean_response_hours, window) / window) if record.responded else NEUTRAL
    speed = (speed * record.responded + NEUTRAL * PRIOR_WEIGHT) / (record.responded + PRIOR_WEIGHT)
    completion = _smoothed(record.finished, record.finished + record.dropped)
    helped = _smoothed(record.got_help, record.finished)
    return (speed + completion + helped) / 3.0


def freshness_component(svc: ServiceFacts, today: dt.date, stale_days: int) -> float:
    if svc.assured_on is None:
        return 0.0
    age_days = (today - svc.assured_on).days
    return 1.0 if age_days <= FRESH_DAYS else max(0.0, 1.0 - (age_days - FRESH_DAYS) / (stale_days - FRESH_DAYS))


def funding_component(svc: ServiceFacts, funding: FundingFacts) -> float:
    cost = svc.cost_per_case_fen
    if cost == 0:
        return 1.0
    if funding.confirmed and funding.covered_fen >= cost:
        return 1.0
    if funding.confirmed and funding.covered_fen > 0:
        return 0.5 * funding.covered_fen / cost
    if funding.source in DECLARED_FUNDED:
        return 0.7
    return 0.3 * max(0.0, 1.0 - cost / EXPENSIVE_FEN)


def capacity_component(svc: ServiceFacts) -> float:
    cap = svc.capacity_left / svc.capacity_per_month if svc.capacity_per_month else 0.0
    return min(1.0, cap)


def _funding_note(cost: int, funding: FundingFacts) -> str:
    if cost == 0:
        return "免费服务"
    if funding.confirmed and funding.covered_fen >= cost:
        return f"费用{cost / 100:.0f}元，已有资金来源（{funding.source}）"
    if funding.confirmed and funding.covered_fen > 0:
        return f"费用{cost / 100:.0f}元，资金仅覆盖部分"
    if funding.source in DECLARED_FUNDED:
        return f"费用{cost / 100:.0f}元，机构申报由{funding.source}支付，待确认"
    return f"费用{cost / 100:.0f}元，暂无资金来源"


def weighted(comp: dict[str, float], weights: MatchWeights) -> float:
    """Σ weight × component over the weights' total, summed in the order of COMPONENTS (pairs.py sums its
    arrays in the same order, so both give the same float)."""
    w = weight_vector(weights)
    total_w = sum(w) or 1.0
    return sum(wk * comp[k] for wk, k in zip(w, COMPONENTS, strict=True)) / total_w


COMPONENTS = ("category_fit", "locality", "provider_record", "freshness", "funding", "continuity", "capacity")


def weight_vector(weights: MatchWeights) -> tuple[float, ...]:
    return tuple(float(getattr(weights, k)) for k in COMPONENTS)


def rank(scored: list[Scored]) -> list[Scored]:
    """Best first; equal scores fall back to the service id so the same input gives the same order."""
    return sorted(scored, key=lambda s: (-s.score, s.service.service_id))
