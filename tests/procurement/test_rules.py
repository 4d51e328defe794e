"""The rules engine on its own: every rule fires on the case it exists for and stays quiet otherwise."""

from __future__ import annotations

import datetime as dt

import pytest

from marketplace.procurement.rules import (
    METHODS,
    SUPPLIER_RULES,
    ProcurementFacts,
    ProcurementRules,
    SupplierFacts,
    add_working_days,
    addon_cap_findings,
    announcement_deadline,
    check_contract_term,
    check_procurement,
    check_suppliers,
    minimum_suppliers,
    publicity_end,
    score_bid,
    single_source_notice_end,
    single_source_notice_required,
)

RULES = ProcurementRules()


def facts(**over: object) -> ProcurementFacts:
    values: dict[str, object] = dict(
        method="open_tender",
        estimated_fen=50_000_000,
        justification="",
        single_source_ground=None,
        original_contract_amount_fen=None,
        earlier_addons_fen=0,
        related_estimates_fen=(),
    )
    values.update(over)
    return ProcurementFacts(**values)  # type: ignore[arg-type]


def codes(found: list) -> dict[str, str]:
    return {f.code: f.severity for f in found}


def test_open_tender_required_at_threshold() -> None:
    at = facts(method="competitive_consultation", estimated_fen=400_000_000, justification="x")
    assert codes(check_procurement(at, RULES))["open_tender_required"] == "block"
    below = facts(method="competitive_consultation", estimated_fen=399_999_999, justification="x")
    assert "open_tender_required" not in codes(check_procurement(below, RULES))
    assert "open_tender_required" not in codes(check_procurement(facts(estimated_fen=900_000_000), RULES))


def test_thresholds_are_configurable() -> None:
    strict = ProcurementRules(open_tender_threshold_fen=10_000_000)
    found = check_procurement(facts(method="invited_tender", estimated_fen=20_000_000, justification="x"), strict)
    assert codes(found)["open_tender_required"] == "block"


def test_centralised_threshold_warns() -> None:
    assert codes(check_procurement(facts(estimated_fen=100_000_000), RULES)) == {"centralised_procurement": "warn"}
    assert codes(check_procurement(facts(estimated_fen=99_999_999), RULES)) == {}


@pytest.mark.parametrize(
    "method", ["invited_tender", "competitive_negotiation", "competitive_consultation", "request_for_quotation"]
)
def test_non_open_methods_need_justification_and_approval(method: str) -> None:
    missing = codes(check_procurement(facts(method=method), RULES))
    assert missing["justification_required"] == "block" and missing["approval_required"] == "warn"
    given = codes(check_procurement(facts(method=method, justification="供应商有限"), RULES))
    assert "justification_required" not in given and given["approval_required"] == "warn"


def test_rfq_for_services_warns() -> None:
    found = codes(check_procurement(facts(method="request_for_quotation", justification="x"), RULES))
    assert found["rfq_for_services"] == "warn"


def test_single_source_needs_a_legal_ground() -> None:
    none = codes(check_procurement(facts(method="single_source", justification="x"), RULES))
    assert none["single_source_ground_required"] == "block"
    ok = facts(method="single_source", justification="x", single_source_ground="art31_2_emergency")
    assert "single_source_ground_required" not in codes(check_procurement(ok, RULES))


def test_single_source_addon_is_capped_at_ten_percent() -> None:
    base = dict(method="single_source", justification="x", single_source_ground="art31_3_addon")
    no_contract = codes(check_procurement(facts(**base, estimated_fen=1_000), RULES))
    assert no_contract["addon_original_contract_required"] == "block"
    within = facts(**base, estimated_fen=600_000, original_contract_amount_fen=10_000_000, earlier_addons_fen=400_000)
    assert "addon_cap_exceeded" not in codes(check_procurement(within, RULES))
    over = facts(**base, estimated_fen=600_001, original_contract_amount_fen=10_000_000, earlier_addons_fen=400_000)
    assert codes(check_procurement(over, RULES))["addon_cap_exceeded"] == "block"
    assert addon_cap_findings(10_000_000, 0, 1_000_000, RULES) == []
    assert addon_cap_findings(10_000_000, 0, 1_000_001, RULES)[0].code == "addon_cap_exceeded"


def test_split_purchase_is_flagged() -> None:
    split = facts(
        method="competitive_consultation",
        justification="x",
        estimated_fen=300_000_000,
        related_estimates_fen=(150_000_000,),
    )
    assert codes(check_procurement(split, RULES))["split_purchase"] == "warn"
    small = facts(
        method="competitive_consultation",
        justification="x",
        estimated_fen=200_000_000,
        related_estimates_fen=(150_000_000,),
    )
    assert "split_purchase" not in codes(check_procurement(small, RULES))


def test_contract_terms() -> None:
    start = dt.date(2026, 3, 1)
    assert check_contract_term(start, dt.date(2027, 2, 28), "", RULES) == []
    over_year = check_contract_term(start, dt.date(2027, 3, 1), "", RULES)
    assert [f.code for f in over_year] == ["contract_term_reason_required"]
    assert check_contract_term(start, dt.date(2029, 2, 28), "服务连续性要求", RULES) == []
    too_long = check_contract_term(start, dt.date(2029, 3, 1), "服务连续性要求", RULES)
    assert [(f.code, f.severity) for f in too_long] == [("contract_term_too_long", "block")]


def test_publicity_counts_working_days() -> None:
    # Friday 2026-11-20: five working days later is Friday 2026-11-27, weekends skipped.
    assert publicity_end(dt.date(2026, 11, 20), RULES) == dt.date(2026, 11, 27)
    holiday = ProcurementRules(holidays=frozenset({dt.date(2026, 11, 23)}))
    assert publicity_end(dt.date(2026, 11, 20), holiday) == dt.date(2026, 11, 30)


def test_price_score_by_lowest_price_method() -> None:
    lowest = score_bid(800_000, 80, 800_000, RULES)
    dearer = score_bid(1_000_000, 90, 800_000, RULES)
    assert lowest.price_centi == 3000 and lowest.technical_centi == 80 * 70
    assert dearer.price_centi == 2400 and dearer.total_centi == 2400 + 6300
    assert dearer.total_centi > lowest.total_centi


def test_publicity_is_at_least_one_working_day() -> None:
    # 财政部令第87号第六十九条: the announcement stands for 1 working day at least, whatever is configured.
    one = ProcurementRules(publicity_working_days=0)
    assert publicity_end(dt.date(2026, 11, 20), one) == dt.date(2026, 11, 23)


def test_announcement_within_two_working_days() -> None:
    # Thursday 2026-11-19 → the next Monday; a holiday on that Monday pushes it to Tuesday.
    assert announcement_deadline(dt.date(2026, 11, 19), RULES) == dt.date(2026, 11, 23)
    holiday = ProcurementRules(holidays=frozenset({dt.date(2026, 11, 23)}))
    assert announcement_deadline(dt.date(2026, 11, 19), holiday) == dt.date(2026, 11, 24)
    assert add_working_days(dt.date(2026, 11, 21), 0, RULES) == dt.date(2026, 11, 21)


def test_single_source_notice_of_five_working_days() -> None:
    threshold = RULES.open_tender_threshold_fen
    assert single_source_notice_required("single_source", "art31_1_sole_supplier", threshold, RULES)
    assert not single_source_notice_required("single_source", "art31_1_sole_supplier", threshold - 1, RULES)
    assert not single_source_notice_required("single_source", "art31_2_emergency", threshold, RULES)
    assert not single_source_notice_required("open_tender", None, threshold, RULES)
    # Published Monday 2026-11-16: five working days end Monday 2026-11-23.
    assert single_source_notice_end(dt.date(2026, 11, 16), RULES) == dt.date(2026, 11, 23)


def test_every_method_has_a_supplier_rule_citing_its_source() -> None:
    assert set(SUPPLIER_RULES) == set(METHODS)
    for method, rule in SUPPLIER_RULES.items():
        assert "《" in rule.source or "号" in rule.source, method
        assert all("号" in e.source for e in rule.exceptions), method
    assert "第四十三条" in SUPPLIER_RULES["open_tender"].fewer and "87号" in SUPPLIER_RULES["open_tender"].fewer
    assert "214号" in SUPPLIER_RULES["competitive_consultation"].source
    assert "第十二条" in SUPPLIER_RULES["competitive_negotiation"].source
    assert "第十二条" in SUPPLIER_RULES["request_for_quotation"].source
    assert "第三十一条" in SUPPLIER_RULES["single_source"].source


@pytest.mark.parametrize(
    ("method", "fewest"),
    [
        ("open_tender", 3),
        ("invited_tender", 3),
        ("competitive_negotiation", 3),
        ("request_for_quotation", 3),
        ("competitive_consultation", 2),  # 财库〔2015〕124号: purchase of services
        ("single_source", 1),
    ],
)
def test_fewest_suppliers_per_method(method: str, fewest: int) -> None:
    assert minimum_suppliers(SupplierFacts(method, fewest)) == fewest
    assert all(f.severity != "block" for f in check_suppliers(SupplierFacts(method, fewest)))
    below = check_suppliers(SupplierFacts(method, fewest - 1))
    assert [(f.code, f.severity) for f in below] == [("too_few_suppliers", "block")]
    assert METHODS[method] in below[0].message and SUPPLIER_RULES[method].source in below[0].message


def test_consultation_with_one_supplier_names_the_rule_and_its_exception() -> None:
    [found] = check_suppliers(SupplierFacts("competitive_consultation", 1))
    assert found.code == "too_few_suppliers"
    assert (
        "财库〔2014〕214号" in found.message and "财库〔2015〕124号" in found.message and "现仅 1 家" in found.message
    )
    [two] = check_suppliers(SupplierFacts("competitive_consultation", 2))
    assert (two.code, two.severity) == ("supplier_exception", "warn") and "124号" in two.message
    assert check_suppliers(SupplierFacts("competitive_consultation", 3)) == []
    # Without the purchase-of-services ground the exception does not apply.
    assert check_suppliers(SupplierFacts("competitive_consultation", 2, purchase_of_services=False))[0].severity == (
        "block"
    )


def test_negotiation_with_two_only_after_a_failed_open_tender() -> None:
    assert check_suppliers(SupplierFacts("competitive_negotiation", 2))[0].code == "too_few_suppliers"
    [after] = check_suppliers(SupplierFacts("competitive_negotiation", 2, after_failed_tender=True))
    assert after.severity == "warn" and "第二十七条第二款" in after.message
    assert check_suppliers(SupplierFacts("competitive_negotiation", 1, after_failed_tender=True))[0].severity == "block"


def test_single_source_takes_exactly_one() -> None:
    assert check_suppliers(SupplierFacts("single_source", 1)) == []
    [two] = check_suppliers(SupplierFacts("single_source", 2))
    assert (two.code, two.severity) == ("too_many_suppliers", "block")
    assert check_suppliers(SupplierFacts("single_source", 0))[0].code == "too_few_suppliers"


def test_sole_supplier_may_stay_single_source_above_the_threshold() -> None:
    sole = facts(
        method="single_source",
        estimated_fen=400_000_000,
        justification="x",
        single_source_ground="art31_1_sole_supplier",
    )
    assert "open_tender_required" not in codes(check_procurement(sole, RULES))
    emergency = facts(
        method="single_source", estimated_fen=400_000_000, justification="x", single_source_ground="art31_2_emergency"
    )
    assert codes(check_procurement(emergency, RULES))["open_tender_required"] == "block"
