"""Code tables of the children's files. Codes are English; labels are what directors read."""

from __future__ import annotations

from typing import Final

GUARDIANSHIP: Final[dict[str, str]] = {
    "family": "家庭监护",
    "entrusted": "委托监护",
    "temporary_state": "临时监护",
    "long_term_state": "长期监护",
}

RISK_LEVELS: Final[dict[str, str]] = {"critical": "极危", "high": "高危", "medium": "中危", "low": "低危"}

GENDERS: Final[dict[str, str]] = {"male": "男", "female": "女"}

VISIT_KINDS: Final[dict[str, str]] = {
    "home": "入户走访",
    "phone": "电话回访",
    "school": "到校了解",
    "follow_up": "回访",
}

URGENCY: Final[dict[int, str]] = {1: "一般", 2: "较急", 3: "紧急", 4: "特急"}

NEED_STATUSES: Final[dict[str, str]] = {
    "open": "待对接",
    "referred": "转介中",
    "met": "已满足",
    "cancelled": "已取消",
}

# Mandatory reporting (强制报告): the situations a director must report at once, and the service category
# of the emergency need each opens unless the reporter names another.
REPORT_KINDS: Final[dict[str, str]] = {
    "lives_alone": "独居无人照料",
    "missing": "失踪",
    "guardianship_lost": "监护缺失",
    "abuse_suspected": "疑似遭受侵害",
    "other": "其他紧急情况",
}
REPORT_NEED_CATEGORY: Final[dict[str, str]] = {
    "lives_alone": "temporary_care",
    "missing": "verification_visits",
    "guardianship_lost": "guardianship_assessment",
    "abuse_suspected": "guardianship_assessment",
    "other": "targeted_assistance",
}
