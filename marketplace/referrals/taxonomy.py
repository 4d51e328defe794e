from __future__ import annotations

from typing import Final

REFERRAL_STATUSES: Final[dict[str, str]] = {
    "sent": "已转介",
    "accepted": "已接收",
    "declined": "已拒绝",
    "in_service": "服务中",
    "completed": "服务完成",
    "closed": "已结案",
    "revoked": "已撤回",
}

OUTCOMES: Final[dict[str, str]] = {
    "got_help": "已获得帮助",
    "partially_helped": "部分获得帮助",
    "referred_elsewhere": "已转介他处",
    "could_not_contact": "无法联系",
    "not_eligible": "不符合条件",
    "no_capacity": "机构无力承接",
    "no_longer_needed": "不再需要",
}
