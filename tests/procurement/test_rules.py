"""The rules engine on its own: every rule fires on the case it exists for and stays quiet otherwise."""

from __future__ import annotations

import datetime as dt

import pytest

from marketplace.procurement.rules import (
    ProcurementFacts,
    ProcurementRules,
    addon_cap_findings,
    check_contract_term,
    check_procurement,
    publicity_end,
    score_bid,
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
