"""Code tables of case conferences. Codes are English; labels are what directors read."""

from __future__ import annotations

from typing import Final

CONFERENCE_STATUSES: Final[dict[str, str]] = {
    "planned": "待召开",
    "held": "已召开",
    "closed": "已办结",
    "cancelled": "已取消",
}

DECISION_STATUSES: Final[dict[str, str]] = {"open": "待落实", "done": "已落实", "cancelled": "已撤销"}

# The outside parties a conference names (kept as data: a new kind is a new row here).
PARTY_KINDS: Final[dict[str, str]] = {
    "school": "学校",
    "police": "派出所",
    "hospital": "医院",
    "residents_committee": "居委会",
    "rescue_station": "救助站",
    "procuratorate_court": "检察院/法院",
    "other": "其他",
}
INTERNAL: Final = "internal"

# A decision owned by one of these parties acts on the guardianship itself (the police, the rescue station's
# temporary care, a court's or procuratorate's guardianship measure): its timeline events are in the "intervention"
# stage; every other decision (the school, the hospital, a staff account) is help for the child, "assistance".
INTERVENTION_PARTIES: Final = frozenset({"police", "rescue_station", "procuratorate_court"})

# A decision's owner is reminded this many days before its due date.
REMIND_DAYS: Final = 2

NOTIFICATION_KINDS: Final[dict[str, str]] = {
    "conference_convened": "个案会商通知",
    "conference_decision_assigned": "会商决定交办",
    "conference_decision_due": "会商决定即将到期",
    "conference_decision_overdue": "会商决定逾期未落实",
}
