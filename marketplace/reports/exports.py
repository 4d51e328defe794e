"""Reports as tables: CSV (UTF-8 with BOM, so Excel opens the Chinese right) and XLSX workbooks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from marketplace.errors import Invalid
from marketplace.tabular import FORMATS, Sheet, Typed, percent, render, to_csv, to_xlsx

__all__ = ["FORMATS", "Sheet", "render", "to_csv", "to_xlsx"]


def _pct(value: float | None) -> Typed | str:
    """A rate: a fraction with a percent format in XLSX, ``12.3%`` in CSV; blank when there is none."""
    return "" if value is None else percent(value)


def _blank(value: Any) -> Any:
    return "" if value is None else value


def coverage_sheets(data: dict[str, Any]) -> list[Sheet]:
    summary = Sheet(
        "概况",
        ["指标", "数值"],
        [
            ("街道", data.get("street_name") or "全区"),
            ("在册儿童", data["children"]),
            ("未满足需求", data["open_needs"]),
            ("已满足需求", data["met_needs"]),
            ("部分满足需求", data["partly_met_needs"]),
            ("回访确认未满足需求", data["not_met_needs"]),
            ("需求覆盖率", _pct(data["coverage_rate"])),
        ],
    )
    detail = Sheet(
        "分类供需",
        ["服务类别", "代码", "未满足需求", "已满足需求", "部分满足需求", "每月供给名额", "缺口"],
        [
            (
                c["label"],
                c["category"],
                c["open_needs"],
                c["met_needs"],
                c["partly_met_needs"],
                c["supply_per_month"],
                c["gap"],
            )
            for c in data["by_category"]
        ],
    )
    return [summary, detail]


def referrals_sheets(data: dict[str, Any]) -> list[Sheet]:
    rows: list[Sequence[Any]] = [(s["label"], s["status"], s["count"]) for s in data["by_status"]]
    rows += [(f"回访结论：{v['label']}", v["verdict"], v["count"]) for v in data["by_verdict"]]
    rows += [
        ("待回访确认", "awaiting_verdict", data["awaiting_verdict"]),
        ("合计", "total", data["total"]),
        ("接收天数中位数", "median_days_to_accept", _blank(data["median_days_to_accept"])),
        ("结案天数中位数", "median_days_to_close", _blank(data["median_days_to_close"])),
        ("超时未接收", "overdue", data["overdue"]),
        ("已升级督办", "escalated", data["escalated"]),
    ]
    return [Sheet("转介统计", ["项目", "代码", "数值"], rows)]


def overdue_sheets(data: dict[str, Any]) -> list[Sheet]:
    rows: list[Sequence[Any]] = [(s["name"], s["visits_overdue"], s["referrals_overdue"]) for s in data["streets"]]
    rows.append(("合计", data["visits_overdue"], data["referrals_overdue"]))
    return [Sheet("逾期走访与超时转介", ["街道", "逾期未走访儿童", "超时未接收转介"], rows)]


PROGRESS_LABELS = {
    "children_total": "在册儿童",
    "children_new": "本季度新建档",
    "needs_opened": "本季度登记需求",
    "needs_met": "本季度满足需求",
    "needs_partly_met": "本季度部分满足需求",
    "visits": "本季度走访次数",
    "visits_on_time": "按时走访次数",
    "visits_on_time_rate": "按时走访率",
    "referrals_sent": "本季度发出转介",
    "referrals_accepted": "其中已接收",
    "referrals_closed": "本季度结案转介",
    "median_days_to_accept": "接收天数中位数",
    "median_days_to_close": "结案天数中位数",
}


def quarterly_sheets(data: dict[str, Any], prefix: str = "") -> list[Sheet]:
    where = data.get("street_name") or "全区"
    progress = [
        (label, _pct(data["progress"][k]) if k.endswith("_rate") else _blank(data["progress"][k]))
        for k, label in PROGRESS_LABELS.items()
    ]
    cases = [
        (
            c["category_label"],
            c["community"],
            c["organization"],
            c["service"],
            _blank(c["outcome_label"]),
            c["verdict_label"],
            c["days_to_close"],
        )
        for c in data["typical_cases"]
    ]
    problems = [(p["label"], p["count"], p.get("detail", "")) for p in data["open_problems"]]
    head = f"{data['year']}年第{data['quarter']}季度 {where}"
    return [
        Sheet(f"{prefix}工作进展", ["项目（" + head + "）", "数值"], progress),
        Sheet(
            f"{prefix}典型案例", ["服务类别", "社区", "服务机构", "服务项目", "机构反馈", "回访结论", "结案天数"], cases
        ),
        Sheet(f"{prefix}存在问题", ["问题", "数量", "说明"], problems),
        *_places_sheets(data, prefix),
    ]


PLACES_HEADERS = ["街道", "工作站", "儿童之家", "活动场次", "建档儿童人次", "其他儿童人次", "成人人次", "志愿者人次"]
PLACES_HEADERS += ["覆盖建档儿童", "在册建档儿童", "覆盖率", "活动分钟"]


def _places_sheets(data: dict[str, Any], prefix: str) -> list[Sheet]:
    """The quarter's use of the stations and children's homes (marketplace.places), per street and in total."""
    usage = data.get("places")
    if not usage:
        return []
    keys: tuple[str, ...] = ("stations", "children_homes", "activities", "on_file_times", "other_children_times", "adult_times")
    keys += ("volunteer_times", "children_reached", "children_on_file")
    rows = [
        (row["street_name"], *(row[k] for k in keys), _pct(row["reached_share"]), row["minutes"])
        for row in [*usage["streets"], usage["total"]]
    ]
    return [Sheet(f"{prefix}阵地使用", PLACES_HEADERS, rows)]


def ranking_sheets(data: dict[str, Any]) -> list[Sheet]:
    labels = data["indicator_labels"]
    headers = ["名次", "街道", "综合得分", *(f"{labels[k]}（权重{w:.0%}）" for k, w in data["weights"].items())]
    headers += ["需求数", "走访次数", "转介数", "接收天数中位数", "已考核儿童主任数"]
    rows = [
        (
            i["rank"],
            i["street_name"],
            i["score"],
            *(_pct(i["indicators"][k]) for k in data["weights"]),
            i["needs"],
            i["visits"],
            i["referrals"],
            _blank(i["median_days_to_accept"]),
            i.get("directors_assessed", 0),
        )
        for i in data["items"]
    ]
    return [Sheet(f"{data['year']}年街道排名", headers, rows), Sheet("计分方法", ["说明"], [(data["method"],)])]


def check_format(fmt: str | None) -> str | None:
    if fmt in (None, "", "json"):
        return None
    if fmt not in FORMATS:
        raise Invalid.field("format", "格式应为 json、csv 或 xlsx (format must be json, csv or xlsx)")
    return fmt
