"""Code tables of volunteers (志愿者): codes are English, labels are what the console shows."""

from __future__ import annotations

from typing import Final

SKILLS: Final[dict[str, str]] = {
    "tutoring": "课业辅导",
    "companionship": "心理陪伴",
    "arts_sports": "文体",
    "medical": "医疗",
    "legal": "法律",
    "photography": "摄影",
    "driving": "驾驶",
    "reading": "阅读推广",
    "first_aid": "急救",
    "translation": "翻译",
    "handicraft": "手工",
}

STATUSES: Final[dict[str, str]] = {"active": "在册", "paused": "暂停服务", "left": "已退出"}

GENDERS: Final[dict[str, str]] = {"male": "男", "female": "女"}

# The youngest age a volunteer may register at (with a guardian's consent until ADULT_AGE).
MIN_AGE: Final = 16
ADULT_AGE: Final = 18
# The longest a volunteer may serve in one day, in minutes (all rows of the day, reversals netted).
MAX_MINUTES_PER_DAY: Final = 24 * 60
# How far back the console offers activities to log hours at.
RECENT_ACTIVITY_DAYS: Final = 30

# How a service on a referral is named on lists and certificates: never the child.
REFERRAL_LABEL: Final = "个案服务 #{id}"

# No notifications are written by this package (``cases.notifications.notify``).
NOTIFICATION_KINDS: Final[dict[str, str]] = {}
