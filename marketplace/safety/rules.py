"""The rule of the graded warnings (分级预警) and the seasonal campaigns, pure functions of the taxonomy's data.

A child's points on a day are the sum of:

- **risk level**: ``RISK_POINTS`` (critical 40, high 25, medium 5, low 0);
- **an overdue visit**: the child's next visit is past due: ``OVERDUE_POINTS`` by days overdue (1–7 days 10,
  8–30 days 20, over 30 days 30);
- **missed checklist items** of this season's current checks (``season_of(today)``), each item by the season of
  its prevention on that day (``MISSED_POINTS``): 5 when the prevention is out of season, 10 in its months,
  20 in its peak months (a missed drowning item in July weighs 20, a missed fire item in July 5).

The grade is the first of ``GRADE_THRESHOLDS`` the points reach (red ≥ 60, orange ≥ 40, yellow ≥ 20, blue ≥ 10);
below 10, no warning (a medium-risk child with nothing else is 5). A closed file has no warning. Examples: a
critical child (40) with a missed drowning item in July (20) is red (60); a high-risk child (25) ten days overdue
(20) is orange (45); a low-risk child with a missed drowning item in July (20) is yellow (20); a medium-risk child
(5) two days overdue (10) is blue (15); a low-risk child with one missed fire item in July (5) has no warning.

The campaigns: a prevention is due on a day when its month is one of its ``months``; its check belongs to the
season of that day (``SEASON_OF_MONTH``; winter takes December's year)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from marketplace.cases.taxonomy import RISK_LEVELS
from marketplace.safety.taxonomy import (
    GRADE_THRESHOLDS,
    MISSED_POINTS,
    OVERDUE_POINTS,
    PREVENTIONS,
    RISK_POINTS,
    SEASON_OF_MONTH,
    SEASONS,
    Prevention,
)


def season_of(day: dt.date) -> str:
    """The season key of a day: "2026-summer"; December to February is the winter of December's year."""
    name = SEASON_OF_MONTH[day.month]
    year = day.year - 1 if day.month in (1, 2) else day.year
    return f"{year}-{name}"


def season_label(key: str) -> str:
    year, _, name = key.partition("-")
    return f"{year}年{SEASONS.get(name, name)}"


def due_preventions(day: dt.date) -> list[Prevention]:
    """The preventions whose checklist is due on ``day`` (the seasonal campaign of that day), in the table's order."""
    return [p for p in PREVENTIONS.values() if day.month in p.months]


def weight(prevention: str, day: dt.date) -> tuple[str, int]:
    """How much one missed item of ``prevention`` weighs on ``day``: (off_season | in_season | peak, points)."""
    p = PREVENTIONS[prevention]
    if day.month in p.peak and day.month in p.months:
        key = "peak"
    elif day.month in p.months:
        key = "in_season"
    else:
        key = "off_season"
    return key, MISSED_POINTS[key]


@dataclass(frozen=True)
class Reason:
    code: str
    label: str
    points: int

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "label": self.label, "points": self.points}


def overdue_points(days: int) -> int:
    for least, points in OVERDUE_POINTS:
        if days >= least:
            return points
    return 0


def reasons(
    *,
    risk_level: str,
    next_visit_due: dt.date,
    day: dt.date,
    missed: Iterable[tuple[str, int]] = (),
) -> list[Reason]:
    """Why a child has points on ``day``: ``missed`` gives (prevention, missed items) of this season's checks."""
    out: list[Reason] = []
    risk = RISK_POINTS.get(risk_level, 0)
    if risk:
        out.append(Reason(f"risk:{risk_level}", f"风险等级：{RISK_LEVELS.get(risk_level, risk_level)}", risk))
    late = (day - next_visit_due).days
    if late > 0:
        out.append(Reason("visit_overdue", f"走访逾期 {late} 天", overdue_points(late)))
    for prevention, count in missed:
        if count <= 0 or prevention not in PREVENTIONS:
            continue
        key, each = weight(prevention, day)
        when = {"peak": "（当季重点）", "in_season": "（当季）", "off_season": ""}[key]
        out.append(
            Reason(f"missed:{prevention}", f"{PREVENTIONS[prevention].label}未落实 {count} 项{when}", each * count)
        )
    return out


def grade_of(points: int) -> str | None:
    for grade, least in GRADE_THRESHOLDS:
        if points >= least:
            return grade
    return None


def total(found: Iterable[Reason]) -> int:
    return sum(r.points for r in found)


def missed_by_prevention(checks: Iterable[tuple[str, Mapping[str, str]]]) -> dict[str, int]:
    """(prevention, answers) of current checks → missed items by prevention."""
    out: dict[str, int] = {}
    for prevention, answers in checks:
        out[prevention] = out.get(prevention, 0) + sum(1 for a in answers.values() if a == "missed")
    return out
