"""The guardianship assessment instrument (监护评估量表), kept as data and versioned.

Each assessment stores the instrument's ``code`` and ``version`` with its answers, so an assessment made under an
older version is still read (and re-scored) under the instrument it was made with. A new version is a new entry of
``INSTRUMENTS``; ``CURRENT`` names the one new assessments use.

Scoring (all on the server): every item is answered with one of its scale's values (0 the worst, the highest the
best); a domain's score is the share of its items' best total it reached; the total is the weighted sum of the
domains' shares, on 0–100 (rounded half up). The result is the first band of ``bands`` whose ``min_score`` the
total reaches, except that a *critical* item answered 0 (a child left without any care, violence in the home) makes
the result ``inadequate`` whatever the total. Each band names the arrangement it recommends and whether the child
may go (back) home under it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from marketplace.errors import Invalid


@dataclass(frozen=True)
class Choice:
    value: int
    label: str


@dataclass(frozen=True)
class Item:
    code: str
    label: str
    scale: tuple[Choice, ...]
    # Answered 0, the result is "inadequate" whatever the total.
    critical: bool = False

    @property
    def best(self) -> int:
        return max(c.value for c in self.scale)


@dataclass(frozen=True)
class Domain:
    code: str
    label: str
    weight: int  # percent of the total; a version's weights add up to 100
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Band:
    code: str
    label: str
    min_score: int
    recommended: str  # a cases.taxonomy.GUARDIANSHIP code
    recommendation: str
    allows_return: bool


@dataclass(frozen=True)
class Instrument:
    code: str
    version: int
    title: str
    domains: tuple[Domain, ...]
    bands: tuple[Band, ...]  # highest min_score first; the last one's min_score is 0

    def items(self) -> list[Item]:
        return [i for d in self.domains for i in d.items]

    def band(self, code: str) -> Band:
        return next(b for b in self.bands if b.code == code)


def _scale(*labels: str) -> tuple[Choice, ...]:
    """A scale from the worst (0) to the best."""
    return tuple(Choice(value, label) for value, label in enumerate(labels))


FOUR = ("严重不足", "明显不足", "基本具备", "完全具备")
RISK = ("存在且正在发生", "存在较高风险", "偶有风险", "未发现")

V1: Final = Instrument(
    code="GA",
    version=1,
    title="困境儿童监护状况评估量表",
    domains=(
        Domain(
            "capacity",
            "监护人监护能力",
            25,
            (
                Item("health", "监护人身体与精神健康状况", _scale(*FOUR)),
                Item("care_skill", "日常照料能力（饮食、起居、就医）", _scale(*FOUR), critical=True),
                Item("education_support", "支持儿童就学与学习", _scale(*FOUR)),
            ),
        ),
        Domain(
            "willingness",
            "监护意愿与责任",
            20,
            (
                Item("willing", "监护人履行监护职责的意愿", _scale(*FOUR), critical=True),
                Item("presence", "监护人陪伴与在家时间", _scale("长期不在身边", "很少陪伴", "经常陪伴", "每日陪伴")),
                Item("cooperation", "配合社区走访与帮扶", _scale(*FOUR)),
            ),
        ),
        Domain(
            "living",
            "家庭经济与居住",
            15,
            (
                Item("income", "家庭收入满足基本生活", _scale(*FOUR)),
                Item("housing", "居住条件安全、卫生", _scale(*FOUR)),
            ),
        ),
        Domain(
            "child",
            "儿童身心状况",
            20,
            (
                Item("physical", "儿童身体健康与营养", _scale(*FOUR)),
                Item("emotional", "儿童情绪与行为", _scale("严重问题", "明显问题", "轻微问题", "良好")),
                Item("schooling", "儿童就学状况", _scale("失学辍学", "经常缺课", "偶有缺课", "正常就学")),
            ),
        ),
        Domain(
            "safety",
            "安全风险",
            20,
            (
                Item("violence", "家庭暴力、虐待或忽视", _scale(*RISK), critical=True),
                Item("alone", "儿童独处无人照料", _scale(*RISK), critical=True),
                Item("hazards", "居所与周边安全隐患（水、火、电、交通）", _scale(*RISK)),
            ),
        ),
    ),
    bands=(
        Band("good", "监护良好", 75, "family", "维持家庭监护，按常规频次走访", True),
        Band("adequate", "监护基本合格需支持", 50, "family", "家庭监护并提供帮扶支持，或办理委托监护", True),
        Band("inadequate", "监护缺失或不当", 0, "temporary_state", "启动监护干预，由救助保护机构临时监护", False),
    ),
)

INSTRUMENTS: Final[dict[tuple[str, int], Instrument]] = {(V1.code, V1.version): V1}
CURRENT: Final = V1

RESULTS: Final[dict[str, str]] = {b.code: b.label for b in V1.bands}


def get(code: str, version: int) -> Instrument:
    try:
        return INSTRUMENTS[(code, version)]
    except KeyError:
        raise Invalid.field("instrument", f"未知的评估量表 {code} 第 {version} 版 (unknown instrument)") from None


@dataclass(frozen=True)
class Scored:
    score: int
    domains: dict[str, int]  # each domain's share reached, in percent
    result: str
    critical: list[str]  # the critical items answered 0


def _percent(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def validate(instrument: Instrument, answers: dict[str, int]) -> None:
    """Every item answered with one of its scale's values, and nothing else; Invalid (422) naming each field."""
    errors = []
    items = {i.code: i for i in instrument.items()}
    for code in answers:
        if code not in items:
            errors.append({"field": f"answers.{code}", "message": f"量表中没有题目 {code}"})
    for item in items.values():
        if item.code not in answers:
            errors.append({"field": f"answers.{item.code}", "message": f"请回答“{item.label}”"})
        elif answers[item.code] not in {c.value for c in item.scale}:
            errors.append(
                {"field": f"answers.{item.code}", "message": f"“{item.label}”的取值应为 0–{item.best} 之间的整数"}
            )
    if errors:
        raise Invalid("评估量表未答完整或取值超出范围 (answers incomplete or out of range)", errors=errors)


def score(instrument: Instrument, answers: dict[str, int]) -> Scored:
    validate(instrument, answers)
    total = Decimal(0)
    domains: dict[str, int] = {}
    for d in instrument.domains:
        share = Decimal(sum(answers[i.code] for i in d.items)) / Decimal(sum(i.best for i in d.items))
        domains[d.code] = _percent(share * 100)
        total += share * d.weight
    points = _percent(total)
    critical = [i.code for i in instrument.items() if i.critical and answers[i.code] == 0]
    # A critical item at 0 is the last band whatever the total.
    bands = instrument.bands[-1:] if critical else instrument.bands
    result = next(b.code for b in bands if points >= b.min_score)
    return Scored(points, domains, result, critical)
