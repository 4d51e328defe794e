"""The procurement rules engine: thresholds and the checks that turn them into named findings.

Defaults are Shenzhen-like figures for district service purchases; change them per district:
- centralised procurement threshold (政府采购限额标准): 1,000,000 yuan — at or above it the purchase must follow
  the government procurement procedures (a warning: the officer confirms the agency and the announcement);
- open tender threshold (公开招标数额标准) for services: 4,000,000 yuan — at or above it only 公开招标 is allowed;
- a single-source add-on (政府采购法第三十一条第三项, 第四十九条) is at most 10% of the original contract amount;
- a contract term beyond one year needs a reason and may not exceed three years (政府购买服务管理办法 第二十四条);
- the award publicity period (中标/成交结果公示) is 5 working days, counted from the day the result is announced
  (at least the 1 working day of 财政部令第87号第六十九条); weekends and listed holidays do not count;
- the award result is announced within 2 working days of the award (财政部令第87号第六十九条);
- the minimum number of suppliers per method and its documented exceptions are the table ``SUPPLIER_RULES``;
- a single-source procurement under 第三十一条第一项 at or above the open-tender threshold is publicly noticed for at
  least 5 working days before it is approved (财政部令第74号第三十八条);
- the steps of a procurement are dated in order: approval, award, announcement, end of publicity, signing.
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
    # The sole-supplier case may stay single source above the threshold, after its public notice (74号令第三十八条).
    sole_supplier = facts.method == "single_source" and facts.single_source_ground == "art31_1_sole_supplier"
    if facts.estimated_fen >= rules.open_tender_threshold_fen and not open_method and not sole_supplier:
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


def is_working_day(day: dt.date, rules: ProcurementRules) -> bool:
    return day.weekday() < 5 and day not in rules.holidays


def add_working_days(day: dt.date, count: int, rules: ProcurementRules) -> dt.date:
    """The day ``count`` working days after ``day`` (weekends and the listed holidays do not count)."""
    left = count
    while left > 0:
        day += dt.timedelta(days=1)
        if is_working_day(day, rules):
            left -= 1
    return day


# 财政部令第87号第六十九条 (and 政府采购法实施条例第四十三条): the result is announced within 2 working days of the award;
# the announcement stands for at least 1 working day.
ANNOUNCE_WITHIN_WORKING_DAYS: Final = 2
MIN_PUBLICITY_WORKING_DAYS: Final = 1
# 财政部令第74号第三十八条 (政府采购法实施条例第三十八条): the single-source notice stands for at least 5 working days.
SINGLE_SOURCE_NOTICE_WORKING_DAYS: Final = 5


def announcement_deadline(awarded_on: dt.date, rules: ProcurementRules) -> dt.date:
    return add_working_days(awarded_on, ANNOUNCE_WITHIN_WORKING_DAYS, rules)


def publicity_end(announced_on: dt.date, rules: ProcurementRules) -> dt.date:
    """The last day of the publicity period: N working days after the day the result was announced."""
    return add_working_days(announced_on, max(rules.publicity_working_days, MIN_PUBLICITY_WORKING_DAYS), rules)


def single_source_notice_required(method: str, ground: str | None, estimated_fen: int, rules: ProcurementRules) -> bool:
    return (
        method == "single_source"
        and ground == "art31_1_sole_supplier"
        and estimated_fen >= rules.open_tender_threshold_fen
    )


def single_source_notice_end(published_on: dt.date, rules: ProcurementRules) -> dt.date:
    """The last day of the single-source notice; the approval may come the day after."""
    return add_working_days(published_on, SINGLE_SOURCE_NOTICE_WORKING_DAYS, rules)


# ---------------------------------------------------------------- suppliers per method


@dataclass(frozen=True)
class SupplierException:
    code: str
    minimum: int
    when: str
    source: str


@dataclass(frozen=True)
class SupplierRule:
    """How many suppliers a method needs at the award, where that is written, and what the law says happens when
    fewer respond."""

    minimum: int
    maximum: int | None
    source: str
    fewer: str
    exceptions: tuple[SupplierException, ...] = ()


_TENDER_FAILS = (
    "投标人不足3家的，不得开标，采购失败（废标），应重新招标或经财政部门批准变更采购方式"
    "（《政府采购货物和服务招标投标管理办法》(财政部令第87号) 第四十三条）"
)
SUPPLIER_RULES: Final[dict[str, SupplierRule]] = {
    "open_tender": SupplierRule(
        3,
        None,
        "《政府采购法》(2014修正) 第三十六条（符合条件的供应商不足三家的，应予废标）；"
        "《政府采购货物和服务招标投标管理办法》(财政部令第87号) 第四十三条",
        _TENDER_FAILS,
    ),
    "invited_tender": SupplierRule(
        3,
        None,
        "《政府采购法》(2014修正) 第三十四条（随机选择三家以上供应商）；财政部令第87号 第四十三条",
        _TENDER_FAILS,
    ),
    "competitive_negotiation": SupplierRule(
        3,
        None,
        "《政府采购非招标采购方式管理办法》(财政部令第74号) 第十二条（邀请不少于3家供应商）；《政府采购法》第三十八条",
        "符合要求的供应商不足3家的，应终止竞争性谈判并重新开展采购（财政部令第74号 第二十七条）",
        (
            SupplierException(
                "after_failed_tender",
                2,
                "公开招标的服务项目在招标中只有两家供应商实质性响应，经批准转为竞争性谈判的，可与该两家供应商谈判",
                "财政部令第74号 第二十七条第二款",
            ),
        ),
    ),
    "competitive_consultation": SupplierRule(
        3,
        None,
        "《政府采购竞争性磋商采购方式管理暂行办法》(财库〔2014〕214号) 第十四条（不少于3家供应商）",
        "符合要求的供应商不足3家的，应终止竞争性磋商并重新开展采购（财库〔2014〕214号）",
        (
            SupplierException(
                "purchase_of_services",
                2,
                "政府购买服务项目（含市场竞争不充分的科研项目），符合要求的供应商只有2家的，竞争性磋商可以继续进行",
                "财库〔2015〕124号",
            ),
        ),
    ),
    "request_for_quotation": SupplierRule(
        3,
        None,
        "《政府采购非招标采购方式管理办法》(财政部令第74号) 第十二条（邀请不少于3家供应商）；《政府采购法》第四十条",
        "符合要求的供应商不足3家的，应终止询价并重新开展采购（财政部令第74号 第四十八条）",
    ),
    "single_source": SupplierRule(
        1,
        1,
        "《政府采购法》(2014修正) 第三十一条（只能从唯一供应商处采购）；第三十九条",
        "单一来源采购须且只能有1家供应商",
    ),
}


@dataclass(frozen=True)
class SupplierFacts:
    method: str
    suppliers: int
    # Every procurement here is a government purchase of services (政府购买服务项目).
    purchase_of_services: bool = True
    # Opened after an open tender failed with exactly two responsive suppliers.
    after_failed_tender: bool = False


def applicable_exception(facts: SupplierFacts) -> SupplierException | None:
    rule = SUPPLIER_RULES[facts.method]
    applies = {"purchase_of_services": facts.purchase_of_services, "after_failed_tender": facts.after_failed_tender}
    return next((e for e in rule.exceptions if applies.get(e.code)), None)


def minimum_suppliers(facts: SupplierFacts) -> int:
    found = applicable_exception(facts)
    return found.minimum if found else SUPPLIER_RULES[facts.method].minimum


def check_suppliers(facts: SupplierFacts) -> list[Finding]:
    """Enough suppliers for the method at the award: a block below the minimum (naming the rule, the exception
    and what the law says to do), a warning when the award rests on an exception."""
    rule = SUPPLIER_RULES[facts.method]
    label = METHODS[facts.method]
    exception = applicable_exception(facts)
    minimum = exception.minimum if exception else rule.minimum
    if rule.maximum is not None and facts.suppliers > rule.maximum:
        return [
            Finding(
                "too_many_suppliers",
                "block",
                f"{label}只能有 {rule.maximum} 家供应商，现有 {facts.suppliers} 家（{rule.source}）",
            )
        ]
    if facts.suppliers < minimum:
        allowed = f"；{exception.when}，可为 {exception.minimum} 家（{exception.source}）" if exception else ""
        return [
            Finding(
                "too_few_suppliers",
                "block",
                f"{label}须至少 {rule.minimum} 家供应商（{rule.source}）{allowed}；"
                f"现仅 {facts.suppliers} 家。{rule.fewer}",
            )
        ]
    if exception is not None and facts.suppliers < rule.minimum:
        return [
            Finding(
                "supplier_exception",
                "warn",
                f"{label}仅 {facts.suppliers} 家供应商，依{exception.source}继续：{exception.when}",
            )
        ]
    return []


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
