"""The instrument kept as data: scoring, bands, critical items, validation."""

from __future__ import annotations

import datetime as dt

import pytest

from marketplace.errors import Invalid
from marketplace.guardianship import instrument as inst
from marketplace.guardianship.service import add_months
from marketplace.guardianship.taxonomy import NOTIFICATION_KINDS


def answers(value: int, **changed: int) -> dict[str, int]:
    return {**{i.code: min(value, i.best) for i in inst.CURRENT.items()}, **changed}


def test_the_instrument_is_consistent_data() -> None:
    i = inst.CURRENT
    assert sum(d.weight for d in i.domains) == 100
    codes = [it.code for it in i.items()]
    assert len(codes) == len(set(codes))
    assert [b.min_score for b in i.bands] == sorted((b.min_score for b in i.bands), reverse=True)
    assert i.bands[-1].min_score == 0
    assert inst.get(i.code, i.version) is i
    assert {d.label for d in i.domains} >= {
        "监护人监护能力",
        "监护意愿与责任",
        "家庭经济与居住",
        "儿童身心状况",
        "安全风险",
    }
    assert all(k.startswith("guardianship_") for k in NOTIFICATION_KINDS)


def test_all_best_is_100_and_good() -> None:
    s = inst.score(inst.CURRENT, answers(3))
    assert (s.score, s.result, s.critical) == (100, "good", [])
    assert set(s.domains.values()) == {100}


def test_weights_decide_the_total() -> None:
    # The living domain (weight 15) at 0 and everything else best: 85.
    s = inst.score(inst.CURRENT, answers(3, income=0, housing=0))
    assert s.score == 85 and s.domains["living"] == 0 and s.result == "good"
    # Every item at 2 of 3: two thirds of 100, rounded: 67, "adequate".
    s = inst.score(inst.CURRENT, answers(2))
    assert (s.score, s.result) == (67, "adequate")
    s = inst.score(inst.CURRENT, answers(1))
    assert (s.score, s.result) == (33, "inadequate")


BOUNDARIES = [
    (75, "good", "2 3 3 3 2 1 3 2 2 1 3 1 2 3"),
    (74, "adequate", "2 2 3 1 2 1 2 3 3 3 3 2 3 1"),
    (50, "adequate", "2 1 1 1 1 3 2 1 1 2 1 3 1 1"),
    (49, "inadequate", "2 1 1 3 1 3 1 1 2 1 2 1 1 1"),
]


@pytest.mark.parametrize(("points", "result", "values"), BOUNDARIES)
def test_band_thresholds_are_inclusive(points: int, result: str, values: str) -> None:
    given = dict(zip([i.code for i in inst.CURRENT.items()], map(int, values.split()), strict=True))
    s = inst.score(inst.CURRENT, given)
    assert (s.score, s.result) == (points, result)


def test_a_critical_item_at_zero_makes_it_inadequate_whatever_the_total() -> None:
    s = inst.score(inst.CURRENT, answers(3, alone=0))
    assert s.score >= 75 and s.result == "inadequate" and s.critical == ["alone"]
    band = inst.CURRENT.band(s.result)
    assert band.recommended == "temporary_state" and not band.allows_return


@pytest.mark.parametrize(
    ("given", "fields"),
    [
        ({k: v for k, v in answers(2).items() if k != "income"}, ["answers.income"]),
        (answers(2, income=4), ["answers.income"]),
        (answers(2, income=-1), ["answers.income"]),
        (answers(2, bogus=1), ["answers.bogus"]),
        ({}, [f"answers.{i.code}" for i in inst.CURRENT.items()]),
    ],
)
def test_answers_are_validated_against_the_instrument(given: dict[str, int], fields: list[str]) -> None:
    with pytest.raises(Invalid) as exc:
        inst.score(inst.CURRENT, given)
    assert exc.value.status_code == 422
    assert sorted(e["field"] for e in exc.value.errors or []) == sorted(fields)


def test_a_year_on_from_the_29th_of_february_is_the_28th() -> None:
    assert add_months(dt.date(2028, 2, 29), 12) == dt.date(2029, 2, 28)
    assert add_months(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)
    assert add_months(dt.date(2026, 12, 3), -12) == dt.date(2025, 12, 3)


def test_an_unknown_version_is_refused() -> None:
    with pytest.raises(Invalid):
        inst.get("GA", 99)
