"""Code tables of the places around the children: codes are English, labels are what directors read. The lists
are data: a bureau adds a facility or a kind of activity with the code review it deserves."""

from __future__ import annotations

from typing import Final

PLACE_KINDS: Final[dict[str, str]] = {
    "station": "未成年人保护工作站",
    "children_home": "儿童之家",
}

FACILITIES: Final[dict[str, str]] = {
    "reading_corner": "阅览角",
    "activity_room": "活动室",
    "counselling_room": "心理咨询室",
    "nursing_room": "母婴室",
    "outdoor_area": "户外场地",
    "multimedia": "多媒体设备",
    "homework_room": "课业辅导室",
    "sports_equipment": "体育器材",
    "first_aid_kit": "急救箱",
    "barrier_free": "无障碍设施",
}

# Who is on duty at a place.
STAFF_ROLES: Final[dict[str, str]] = {
    "supervisor": "儿童督导员",
    "director": "儿童主任",
    "social_worker": "驻站社工",
    "volunteer": "志愿者",
    "staff": "工作人员",
    "counsellor": "心理咨询师",
}

ACTIVITY_KINDS: Final[dict[str, str]] = {
    "homework": "课业辅导",
    "counselling": "心理疏导",
    "safety": "安全教育（十防）",
    "parent_child": "亲子活动",
    "festival": "节日关爱",
    "interest": "兴趣课堂",
    "sports": "体育运动",
    "law": "法治宣传",
    "reading": "阅读分享",
    "health": "健康讲座",
    "other": "其他",
}

# The participants other than the children on file, counted by the recorder (number inputs).
OTHER_PARTICIPANTS: Final[dict[str, str]] = {
    "other_children": "未建档儿童",
    "adults": "家长及其他成人",
    "volunteers": "志愿者",
}
# The bucket of ``counts["children"]`` for the children not on file.
OTHER_CHILDREN: Final = "other"
OTHER_CHILDREN_LABEL: Final = "其他儿童（未建档）"
# A child on file without a category is counted here.
UNCATEGORISED: Final = "uncategorised"
UNCATEGORISED_LABEL: Final = "建档儿童（无类别）"

# The recorder may change an activity's participants for this many days after recording it.
EDIT_DAYS: Final = 7

# The notifications this package writes (``cases.notifications.notify``): none yet.
NOTIFICATION_KINDS: Final[dict[str, str]] = {}
