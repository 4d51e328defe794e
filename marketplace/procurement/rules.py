"""The procurement rules engine: thresholds and the checks that turn them into named findings.

Defaults are Shenzhen-like figures for district service purchases; change them per district:
- centralised procurement threshold (政府采购限额标准): 1,000,000 yuan — at or above it the purchase must follow
  the government procurement procedures (a warning: the officer confirms the agency and the announcement);
- open tender threshold (公开招标数额标准) for services: 4,000,000 yuan — at or above it only 公开招标 is allowed;
- a single-source add-on (政府采购法第三十一条第三项, 第四十九条) is at most 10% of the original contract amount;
- a contract term beyond one year needs a reason and may not exceed three years (政府购买服务管理办法 第二十四条);
- the award publicity period (中标/成交结果公示) is 5 working days; weekends and listed holidays do not count;
- the price share of a comprehensive score is 30% (财政部令第87号第五十五条: 10%-30% for services).
Each threshold can be overridden by an environment variable (``PROCUREMENT_*``), read once by marketplace.settings
(``Settings.procurement``; ``ProcurementRules`` lives there and is re-exported here).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal

from marketplace.settings import ProcurementRules as ProcurementRules  # re-exported: callers import it from here
from marketplace.settings import get_settings

METHODS: Final[dict[str, str]] = {
    "open_tender": "公开招标",
    "invited_tender": "邀请招标",
    "competitive_negotiation": "竞争性谈判",
    "competitive_consultation": "竞争性磋商",
    "request_for_quotation": "询价",
    "single_source": "单一来源采购",
}

# How a method picks its winner: comprehensive scoring (综合评分法) or lowest evaluated price (最低评标价法).
EVALUATION: Final[dict[str, str]] = {
    "open_tender": "comprehensive",
    "invited_tender": "comprehensive",
    "competitive_consultation": "comprehensive",
    "competitive_negotiation": "lowest_price",
    "request_for_quotation": "lowest_price",
    "single_source": "lowest_price",
}

# 政府采购法第三十一条: the three grounds on which single-source procurement is lawful.
SINGLE_SOURCE_GROUNDS: Final[dict[str, str]] = {
    "art31_1_sole_supplier": "只能从唯一供应商处采购（第三十一条第一项）",
    "art31_2_emergency": "发生了不可预见的紧急情况不能从其他供应商处采购（第三十一条第二项）",
    "art31_3_addon": "必须保证原有采购项目一致性或者服务配套的要求，需要继续从原供应商处添购，"
    "且添购资金总额不超过原合同采购金额百分之十（第三十一条第三项）",
}

Severity = Literal["block", "warn"]


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def get_rules() -> ProcurementRules:
    """The thresholds in force: the ``procurement`` field of the settings (``PROCUREMENT_*``, read once there)."""
    return get_settings().procurement


def yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}元"


# ---------------------------------------------------------------- procurement rules


@dataclass(frozen=True)
class ProcurementFacts:
    """What the rules look at when a procurement is created; the service gathers it from the database."""

    method: str
    estimated_fen: int
    justification: str
    single_source_ground: str | None
    # Set when the procurement is a single-source add-on to an existing contract.
    original_contract_amount_fen: int | None
    earlier_addons_fen: int
    # Estimates of other live procurements on the same line, same fiscal year, overlapping categories.
    related_estimates_fen: tuple[int, ...]


def check_procurement(facts: ProcurementFacts, rules: ProcurementRules) -> list[Finding]:
    found: list[Finding] = []
    open_method = facts.method == "open_tender"
    if facts.estimated_fen >= rules.open_tender_threshold_fen and not open_method:
        found.append(
            Finding(
                "open_tender_required",
                "block",
                f"预算金额 {yuan(facts.estimated_fen)} 达到公开招标数额标准 {yuan(rules.open_tender_threshold_fen)}，"
                "必须采用公开招标",
            )
        )
    if facts.estimated_fen >= rules.centralised_threshold_fen:
        found.append(
            Finding(
                "centralised_procurement",
                "warn",
                f"预算金额达到政府采购限额标准 {yuan(rules.centralised_threshold_fen)}，须按政府采购程序组织实施并公告",
            )
        )
    if not open_method:
        if not facts.justification.strip():
            found.append(
                Finding(
                    "justification_required",
                    "block",
                    f"采用{METHODS.get(facts.method, facts.method)}须说明理由",
                )
            )
        found.append(
            Finding(
                "approval_required",
                "warn",
                f"采用{METHODS.get(facts.method, facts.method)}须经区民政局审批，审批前不得确定成交供应商",
            )
        )
    if facts.method == "request_for_quotation":
        found.append(
            Finding(
                "rfq_for_services",
                "warn",
                "询价适用于规格、标准统一的货物（政府采购法第三十二条），服务项目请核实是否适用",
            )
        )
    if facts.method == "single_source":
        found.extend(_single_source(facts, rules))
    if facts.related_estimates_fen and facts.estimated_fen < rules.open_tender_threshold_fen:
        combined = facts.estimated_fen + sum(facts.related_estimates_fen)
        if combined >= rules.open_tender_threshold_fen:
            found.append(
                Finding(
                    "split_purchase",
                    "warn",
                    f"同一预算科目、同一财年、服务类别重叠的采购合计 {yuan(combined)}，达到公开招标数额标准，"
                    "涉嫌化整为零规避公开招标（政府采购法第二十八条）",
                )
            )
    return found


def _single_source(facts: ProcurementFacts, rules: ProcurementRules) -> list[Finding]:
    if facts.single_source_ground not in SINGLE_SOURCE_GROUNDS:
        return [
            Finding(
                "single_source_ground_required",
                "block",
                "单一来源采购须注明政府采购法第三十一条规定的情形: " + "、".join(SINGLE_SOURCE_GROUNDS),
            )
        ]
    if facts.single_source_ground != "art31_3_addon":
        return []
    if facts.original_contract_amount_fen is None:
        return [
            Finding(
                "addon_original_contract_required",
                "block",
                "添购须指明原合同（original_contract_id），且供应商须为原供应商",
            )
        ]
    return addon_cap_findings(facts.original_contract_amount_fen, facts.earlier_addons_fen, facts.estimated_fen, rules)


def addon_cap_findings(original_fen: int, earlier_fen: int, new_fen: int, rules: ProcurementRules) -> list[Finding]:
    cap = original_fen * rules.addon_cap_percent // 100
    if earlier_fen + new_fen > cap:
        return [
            Finding(
                "addon_cap_exceeded",
                "block",
                f"添购总额 {yuan(earlier_fen + new_fen)} 超过原合同金额 {yuan(original_fen)} 的"
                f"{rules.addon_cap_percent}%（上限 {yuan(cap)}）",
            )
        ]
    return []


# ---------------------------------------------------------------- contract rules


def add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last))


def last_day_of_term(starts_on: dt.date, months: int) -> dt.date:
    """The last day of a term of whole months: a year from 2026-03-01 ends on 2027-02-28."""
    return add_months(starts_on, months) - dt.timedelta(days=1)


def check_contract_term(starts_on: dt.date, ends_on: dt.date, reason: str, rules: ProcurementRules) -> list[Finding]:
    if ends_on > last_day_of_term(starts_on, rules.max_term_months):
        return [
            Finding(
                "contract_term_too_long",
                "block",
                f"合同期限超过政府购买服务合同最长 {rules.max_term_months} 个月",
            )
        ]
    if ends_on > last_day_of_term(starts_on, rules.term_reason_after_months) and not reason.strip():
        return [
            Finding(
                "contract_term_reason_required",
                "block",
                f"合同期限超过 {rules.term_reason_after_months} 个月须说明理由（term_reason）",
            )
        ]
    return []


def publicity_end(awarded_on: dt.date, rules: ProcurementRules) -> dt.date:
    """The last day of the publicity period: N working days after the award day."""
    day = awarded_on
    left = rules.publicity_working_days
    while left > 0:
        day += dt.timedelta(days=1)
        if day.weekday() < 5 and day not in rules.holidays:
            left -= 1
    return day


# ---------------------------------------------------------------- bid evaluation


@dataclass(frozen=True)
class Score:
    """Scores in hundredths of a point (integers, so ranking is exact)."""

    price_centi: int
    technical_centi: int

    @property
    def total_centi(self) -> int:
        return self.price_centi + self.technical_centi


def score_bid(price_fen: int, technical_score: int, lowest_price_fen: int, rules: ProcurementRules) -> Score:
    # 财政部令第87号第五十五条: price score = (lowest valid price / bid price) × price weight × 100.
    price_centi = lowest_price_fen * rules.price_weight_percent * 100 // price_fen
    technical_centi = technical_score * (100 - rules.price_weight_percent)
    return Score(price_centi, technical_centi)


def centi(value: int) -> str:
    return f"{value // 100}.{value % 100:02d}"
