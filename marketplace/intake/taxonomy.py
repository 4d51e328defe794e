"""Code tables of hotline and public reports (来电与群众反映). Codes are English; labels are what directors read."""

from __future__ import annotations

import datetime as dt
from typing import Final

# Where a report came in from.
CHANNELS: Final[dict[str, str]] = {
    "hotline_12355": "12355青少年服务热线",
    "street_hotline": "街道热线",
    "hotline_12345": "12345政务热线",
    "school": "学校报告",
    "hospital": "医院报告",
    "police": "公安转来",
    "neighbour": "邻里/群众反映",
    "other": "其他",
}
# How the child's timeline names the intake's arrival.
CHANNEL_EVENTS: Final[dict[str, str]] = {
    "hotline_12355": "12355热线来电",
    "street_hotline": "街道热线来电",
    "hotline_12345": "12345热线来电",
    "school": "学校报告",
    "hospital": "医院报告",
    "police": "公安转来线索",
    "neighbour": "邻里/群众反映",
    "other": "外部反映",
}

# Time from the call to the triage the community's director owes, by urgency (cases.taxonomy.URGENCY: 特急 4 …
# 一般 1).
TRIAGE_DEADLINES: Final[dict[int, dt.timedelta]] = {
    4: dt.timedelta(hours=2),
    3: dt.timedelta(hours=12),
    2: dt.timedelta(days=3),
    1: dt.timedelta(days=7),
}
# An intake of this urgency or more reaches its director at once, even at night.
URGENT_FROM: Final = 3

STATUSES: Final[dict[str, str]] = {"new": "待研判", "triaged": "已研判"}

# What a triage makes of an intake. ``link_file`` is the follow-up of a mandatory report about an unidentified
# child: the report is linked to a file (an existing one, or one ``new_file`` opens then).
OUTCOMES: Final[dict[str, str]] = {
    "mandatory_report": "转为强制报告",
    "need": "登记为已建档儿童的需求",
    "new_file": "新建儿童档案",
    "no_action": "不予处理",
    "link_file": "强制报告关联儿童档案",
}
FIRST_OUTCOMES: Final = ("mandatory_report", "need", "new_file", "no_action")
FOLLOW_UP_OUTCOMES: Final = ("new_file", "link_file")

NOTIFICATION_KINDS: Final[dict[str, str]] = {
    "intake_routed": "来电/反映待研判",
    "intake_overdue": "来电/反映逾期未研判",
}
