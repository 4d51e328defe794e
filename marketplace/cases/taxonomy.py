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

# The need lifecycle (``cases.lifecycle.NEED_LIFECYCLE``). The last four are settled: met / partly_met / not_met
# by the caseworker's verdict at a referral's close, withdrawn when the need is cancelled or the file closed.
NEED_STATUSES: Final[dict[str, str]] = {
    "open": "待对接",
    "matched": "已转介",
    "in_service": "服务中",
    "met": "已满足",
    "partly_met": "部分满足",
    "not_met": "未满足",
    "withdrawn": "已撤销",
}
SETTLED_NEED_STATUSES: Final = frozenset({"met", "partly_met", "not_met", "withdrawn"})

# The caseworker's verdict on a referral's outcome, given at its close after a follow-up visit; the need takes it.
VERDICTS: Final[dict[str, str]] = {
    "met": "需求已满足",
    "partly_met": "需求部分满足",
    "not_met": "需求未满足",
    "withdrawn": "需求已不存在",
}

# Steps up the escalation ladder of anything overdue.
ESCALATION_LEVELS: Final[dict[int, str]] = {0: "", 1: "已提醒儿童主任", 2: "已升级至街道督导员", 3: "已升级至区民政局"}
ESCALATION_KINDS: Final[dict[str, str]] = {
    "accept": "转介超时未接收",
    "first_contact": "接收后超时未开始服务",
    "visit": "走访逾期",
    "report_ack": "强制报告超时未签收",
}

# The contact fields of a file a director may share with the provider of a referral.
SHAREABLE_CONTACT: Final[dict[str, str]] = {
    "guardian_name": "监护人姓名",
    "guardian_phone": "监护人电话",
    "address": "家庭住址",
}

TRANSFER_STATUSES: Final[dict[str, str]] = {
    "pending": "待审批",
    "approved": "已转入",
    "rejected": "已驳回",
    "cancelled": "已撤回",
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

REPORT_STATUSES: Final[dict[str, str]] = {"open": "待签收", "acknowledged": "已签收", "closed": "已办结"}

# Emergency handling steps (应急处置) recorded on a mandatory report.
REPORT_STEP_KINDS: Final[dict[str, str]] = {
    "police_notified": "已报警",
    "police_arrived": "民警到场",
    "medical": "就医",
    "temporary_care": "临时照料安置",
    "guardian_contacted": "联系监护人",
    "guardianship_assessment": "监护评估",
    "guardianship_intervention": "监护干预",
    "other": "其他处置",
}

# The Yuzhong closed loop (监测预防 → 发现报告 → 应急处置 → 监护评估 → 救助帮扶 → 监护干预): the stages a child's
# timeline is told in, in order.
LOOP_STAGES: Final[dict[str, str]] = {
    "monitoring": "监测预防",
    "report": "发现报告",
    "emergency": "应急处置",
    "assessment": "监护评估",
    "assistance": "救助帮扶",
    "intervention": "监护干预",
}
