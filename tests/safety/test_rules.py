"""The warnings' rule and the seasonal campaigns (``marketplace.safety.rules``), as the module's docstring states."""

from __future__ import annotations

import datetime as dt

from marketplace.safety import rules
from marketplace.safety.taxonomy import PREVENTIONS

JULY = dt.date(2026, 7, 10)


def grade(risk: str, due: dt.date, day: dt.date, missed: list[tuple[str, int]] | None = None) -> tuple[str | None, int]:
    found = rules.reasons(risk_level=risk, next_visit_due=due, day=day, missed=missed or [])
    return rules.grade_of(rules.total(found)), rules.total(found)


def test_the_ten_preventions_are_data_with_three_to_five_items() -> None:
    assert len(PREVENTIONS) == 10
    assert {p.label for p in PREVENTIONS.values()} >= {"防溺水", "防火灾", "防欺凌暴力", "防食物中毒"}
    for p in PREVENTIONS.values():
        assert 3 <= len(p.items) <= 5, p.code
        assert set(p.peak) <= set(p.months), p.code


def test_campaigns_by_season() -> None:
    summer = {p.code for p in rules.due_preventions(JULY)}
    winter = {p.code for p in rules.due_preventions(dt.date(2026, 12, 20))}
    assert "drowning" in summer and "food_poisoning" in summer and "fire" not in summer
    assert "fire" in winter and "electricity" in winter and "drowning" not in winter
    assert "bullying" in summer and "bullying" in winter  # all year
    assert "drowning" in {p.code for p in rules.due_preventions(dt.date(2026, 5, 2))}  # before summer
    assert rules.season_of(JULY) == "2026-summer"
    assert rules.season_of(dt.date(2027, 1, 5)) == rules.season_of(dt.date(2026, 12, 1)) == "2026-winter"
    assert rules.season_label("2026-winter") == "2026年冬季"


def test_the_documented_examples() -> None:
    assert grade("critical", JULY + dt.timedelta(days=5), JULY, [("drowning", 1)]) == ("red", 60)
    assert grade("high", JULY - dt.timedelta(days=10), JULY) == ("orange", 45)
    assert grade("low", JULY, JULY, [("drowning", 1)]) == ("yellow", 20)
    assert grade("medium", JULY - dt.timedelta(days=2), JULY) == ("blue", 15)
    assert grade("low", JULY, JULY, [("fire", 1)]) == (None, 5)  # below blue: no warning
    assert grade("medium", JULY + dt.timedelta(days=1), JULY) == (None, 5)
    assert grade("low", JULY, JULY) == (None, 0)


def test_a_missed_item_weighs_by_season() -> None:
    assert rules.weight("drowning", JULY) == ("peak", 20)
    assert rules.weight("drowning", dt.date(2026, 5, 3)) == ("in_season", 10)
    assert rules.weight("drowning", dt.date(2026, 12, 3)) == ("off_season", 5)
    assert rules.weight("fire", dt.date(2026, 12, 3)) == ("peak", 20)
    # The same missed item: red in the drowning season's peak, orange out of season.
    assert grade("critical", JULY, JULY, [("drowning", 1)])[0] == "red"
    assert grade("critical", dt.date(2026, 12, 3), dt.date(2026, 12, 3), [("drowning", 1)])[0] == "orange"


def test_overdue_tiers() -> None:
    assert [rules.overdue_points(d) for d in (0, 1, 7, 8, 30, 31, 400)] == [0, 10, 10, 20, 20, 30, 30]
