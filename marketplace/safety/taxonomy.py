"""十防: the ten preventions, their checklists and seasons, and the graded warnings' rule, kept as data.

Codes are English; labels are what directors read. ``service`` and ``rules`` read only these tables: changing a
month, an item, a weight or a threshold here changes the product, nothing else needs to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

ALL_YEAR: Final = tuple(range(1, 13))
# Term starts (开学季): March and September.
TERM_START: Final = (2, 3, 8, 9)


@dataclass(frozen=True)
class Prevention:
    code: str
    label: str
    # The months (1–12) its checklist is due; ``peak`` the months a missed item weighs most (``rules``).
    months: tuple[int, ...]
    peak: tuple[int, ...]
    season_note: str
    items: dict[str, str]


PREVENTIONS: Final[dict[str, Prevention]] = {
    p.code: p
    for p in (
        Prevention(
            "drowning",
            "防溺水",
            (5, 6, 7, 8, 9),
            (6, 7, 8),
            "汛期及暑假前后（5–9月）",
            {
                "told_six_nevers": "已向儿童讲解“六不”防溺水要求",
                "guardian_pledge": "监护人已签防溺水安全承诺书",
                "water_spots_known": "已告知周边危险水域（河道、水库、工地积水）",
                "summer_care_plan": "暑期看护安排已落实",
            },
        ),
        Prevention(
            "mental_health",
            "防精神疾病/心理危机",
            ALL_YEAR,
            TERM_START,
            "全年，开学季重点",
            {
                "mood_checked": "已了解儿童情绪与睡眠状况",
                "school_feedback": "已向学校了解在校表现",
                "hotline_known": "儿童和监护人知道心理援助热线",
            },
        ),
        Prevention(
            "internet",
            "防网络沉迷",
            ALL_YEAR,
            (1, 2, 7, 8),
            "全年，寒暑假重点",
            {
                "screen_time_agreed": "已与监护人约定上网时间",
                "minor_mode_on": "手机/平板已开启未成年人模式",
                "no_paid_games": "已提醒防范网络游戏充值和网络诈骗",
            },
        ),
        Prevention(
            "abduction",
            "防拐卖",
            ALL_YEAR,
            (1, 2, 7, 8),
            "全年",
            {
                "stranger_rules": "儿童知道不跟陌生人走、不吃陌生人食物",
                "contacts_memorised": "儿童能说出监护人电话和住址",
                "pickup_arranged": "上下学接送安排已落实",
            },
        ),
        Prevention(
            "fire",
            "防火灾",
            (11, 12, 1, 2),
            (12, 1),
            "冬季（11月–次年2月）",
            {
                "no_fire_play": "已提醒不玩火、不燃放烟花爆竹",
                "heater_safe": "取暖设备摆放与使用安全",
                "escape_route": "儿童知道家中逃生路线和119",
                "extinguisher": "家中有灭火器或已告知最近的消防器材",
            },
        ),
        Prevention(
            "traffic",
            "防交通事故",
            ALL_YEAR,
            TERM_START,
            "全年，开学季重点",
            {
                "route_safe": "上下学路线安全已核实",
                "no_under_age_riding": "不满12岁不骑自行车、不满16岁不骑电动车上路",
                "helmet_seatbelt": "乘车系安全带、骑车戴头盔",
            },
        ),
        Prevention(
            "electricity",
            "防触电",
            (11, 12, 1, 2, 6, 7, 8),
            (12, 1),
            "冬季取暖及夏季用电高峰",
            {
                "sockets_safe": "插座、电线无破损裸露",
                "no_wet_hands": "已提醒不湿手触摸电器",
                "charging_safe": "电动车不在室内充电",
            },
        ),
        Prevention(
            "food_poisoning",
            "防食物中毒",
            (5, 6, 7, 8, 9),
            (7, 8),
            "夏季（5–9月）",
            {
                "fridge_food": "家中食物储存得当，无过期变质食品",
                "no_wild_mushrooms": "已提醒不采食野生菌和不明野果",
                "clean_water": "饮用水干净安全",
            },
        ),
        Prevention(
            "falls",
            "防坠落",
            ALL_YEAR,
            (7, 8),
            "全年",
            {
                "window_guards": "窗户、阳台有防护栏或限位器",
                "no_climbing": "已提醒不攀爬阳台、窗台",
                "unattended_care": "低龄儿童不单独留在家中",
            },
        ),
        Prevention(
            "bullying",
            "防欺凌暴力",
            ALL_YEAR,
            TERM_START,
            "全年，开学季重点",
            {
                "asked_about_bullying": "已询问儿童是否受到欺凌或暴力",
                "trusted_adult": "儿童知道遇到欺凌向谁求助",
                "school_informed": "已与学校沟通防欺凌情况",
                "home_violence_checked": "已了解家庭中有无暴力情况",
            },
        ),
    )
}

ANSWERS: Final[dict[str, str]] = {"done": "已落实", "missed": "未落实", "na": "不适用"}

# Seasons of the checklists: one check per child per prevention per season. Winter takes the December's year
# (December 2026 – February 2027 is "2026-winter").
SEASONS: Final[dict[str, str]] = {"spring": "春季", "summer": "夏季", "autumn": "秋季", "winter": "冬季"}
SEASON_OF_MONTH: Final[dict[int, str]] = {
    3: "spring",
    4: "spring",
    5: "spring",
    6: "summer",
    7: "summer",
    8: "summer",
    9: "autumn",
    10: "autumn",
    11: "autumn",
    12: "winter",
    1: "winter",
    2: "winter",
}

# ---------------------------------------------------------------- graded warnings (分级预警)

GRADES: Final[dict[str, str]] = {"red": "红色预警", "orange": "橙色预警", "yellow": "黄色预警", "blue": "蓝色预警"}
GRADE_SHORT: Final[dict[str, str]] = {"red": "红", "orange": "橙", "yellow": "黄", "blue": "蓝"}
# Most severe first: the lowest points that give each grade (below blue's, no warning: a medium-risk child with
# nothing else, or one missed item out of season, is not a warning).
GRADE_THRESHOLDS: Final[tuple[tuple[str, int], ...]] = (("red", 60), ("orange", 40), ("yellow", 20), ("blue", 10))
GRADE_RANK: Final[dict[str, int]] = {"red": 4, "orange": 3, "yellow": 2, "blue": 1}
# The director acknowledges and says what was done within this many hours of the warning (or its raise to a
# higher grade); past it the job escalates to the street's supervisor.
ACK_HOURS: Final[dict[str, int]] = {"red": 24, "orange": 72, "yellow": 7 * 24, "blue": 30 * 24}

# Points from the child's risk level.
RISK_POINTS: Final[dict[str, int]] = {"critical": 40, "high": 25, "medium": 5, "low": 0}
# Points from a visit overdue by at least this many days (the highest row that applies).
OVERDUE_POINTS: Final[tuple[tuple[int, int], ...]] = ((31, 30), (8, 20), (1, 10))
# Points per missed item of this season's checks: out of season, in the prevention's months, in its peak months.
MISSED_POINTS: Final[dict[str, int]] = {"off_season": 5, "in_season": 10, "peak": 20}

WARNING_STATUSES: Final[dict[str, str]] = {
    "open": "待处置",
    "acknowledged": "已处置",
    "resolved": "已解除",
}
EVENT_KINDS: Final[dict[str, str]] = {
    "raised": "发出预警",
    "regraded": "预警等级变化",
    "acknowledged": "儿童主任已处置",
    "action": "处置措施",
    "escalated": "超时未处置，已升级至街道督导员",
    "note": "督导意见",
    "resolved": "预警解除",
}

NOTIFICATION_KINDS: Final[dict[str, str]] = {
    "safety_warning": "安全预警（红色、橙色）",
    "safety_warning_escalated": "安全预警超时未处置升级",
}
