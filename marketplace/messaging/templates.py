"""What an email or an SMS says, per notification kind, as data.

A message is built ONLY from the kind's label, a count, a deadline, the escalation's level and the link to the
console page. Never from the in-app title or body (they name the child, quote a reason), never from any other field
of the notification's ``data``: a reader signs in to see the case. Every placeholder is in ``PLACEHOLDERS``
(tests/messaging/test_templates.py checks it, and renders every template over the demo's notifications looking for
the children's names, addresses, identity numbers, schools and guardians)."""

from __future__ import annotations

import datetime as dt
import string
from dataclasses import dataclass
from typing import Any, Final

from marketplace import clock
from marketplace.cases.taxonomy import ESCALATION_LEVELS

# The groups a person chooses from, widest last: "urgent" only, "reminders" (urgent and reminders), "all".
GROUPS: Final[dict[str, str]] = {"urgent": "紧急", "reminders": "待办提醒", "other": "其他通知"}
CHOICES: Final[dict[str, str]] = {
    "off": "不发送",
    "urgent": "仅紧急事项",
    "reminders": "紧急事项和待办提醒",
    "all": "全部通知",
}
WANTS: Final[dict[str, frozenset[str]]] = {
    "off": frozenset(),
    "urgent": frozenset({"urgent"}),
    "reminders": frozenset({"urgent", "reminders"}),
    "all": frozenset({"urgent", "reminders", "other"}),
}
PLACEHOLDERS: Final = frozenset({"label", "count", "deadline", "link", "level"})
BRAND: Final = "福田区儿童关爱平台"


@dataclass(frozen=True)
class Template:
    label: str
    group: str  # one of GROUPS
    path: str  # the console page the link opens
    sms_code: str  # the approved template's code at the gateway (its parameters: label, count, deadline, link)
    urgent: bool = False  # always bypasses quiet hours
    subject: str = "【" + BRAND + "】{label}"
    body: str = (
        "您有{count}条新的“{label}”{level}。{deadline}\n"
        "请登录平台查看和处理：{link}\n\n"
        "为保护儿童隐私，本邮件不含儿童的任何信息。请勿回复本邮件。"
    )


# The SMS templates approved at the gateway, one per group (their text, for the application to the gateway):
#   SMS_URGENT:    【签名】紧急：${label}（${count}条）${deadline}，请立即登录处理：${link}
#   SMS_REMINDER:  【签名】待办提醒：${label}（${count}条）${deadline}，请登录处理：${link}
#   SMS_NOTICE:    【签名】您有${count}条新通知：${label}，详见：${link}
SMS_TEMPLATES: Final[dict[str, str]] = {"urgent": "SMS_URGENT", "reminders": "SMS_REMINDER", "other": "SMS_NOTICE"}


def _t(label: str, group: str, path: str = "/admin/notifications", *, urgent: bool = False) -> Template:
    return Template(label=label, group=group, path=path, sms_code=SMS_TEMPLATES[group], urgent=urgent)


# Every kind ``notifications.notify`` is called with today (grep ``kind=`` in marketplace/).
TEMPLATES: Final[dict[str, Template]] = {
    "mandatory_report": _t("强制报告", "urgent", "/admin/mandatory-reports", urgent=True),
    "escalation_accept": _t("转介超时未接收", "reminders", "/admin/referrals"),
    "escalation_first_contact": _t("转介接收后超时未开始服务", "reminders", "/admin/referrals"),
    "escalation_visit": _t("走访逾期", "reminders", "/admin/notifications"),
    "escalation_report_ack": _t("强制报告超时未签收", "urgent", "/admin/mandatory-reports", urgent=True),
    "escalation_remind": _t("督办提醒", "reminders"),
    "escalation_reassign": _t("改派走访", "reminders"),
    "referral_sent": _t("收到新的转介", "reminders", "/admin/referrals/inbox"),
    "referral_accept": _t("转介已接收", "other", "/admin/referrals"),
    "referral_decline": _t("转介被拒绝", "reminders", "/admin/referrals"),
    "referral_complete": _t("转介服务已完成，待回访结案", "reminders", "/admin/referrals"),
    "referral_close": _t("转介已结案", "other", "/admin/referrals"),
    "referral_revoke": _t("转介已撤回", "other", "/admin/referrals"),
    "transfer_request": _t("儿童档案转档申请", "reminders"),
    "transfer_approve": _t("转档申请已批准", "other"),
    "transfer_reject": _t("转档申请已驳回", "other"),
    "transfer_cancel": _t("转档申请已撤销", "other"),
    "organization_application": _t("社会组织入驻申请", "other", "/admin/applications"),
}

# The kinds other features add (safety_warning, intake_routed, conference_decision_due, ...): by prefix.
PREFIXES: Final[dict[str, Template]] = {
    "safety_": _t("安全预警", "reminders"),
    "intake_": _t("热线与线索转办", "reminders"),
    "conference_": _t("个案会商事项", "reminders"),
    "guardianship_": _t("监护事项提醒", "reminders"),
    "families_": _t("留守儿童亲情联系提醒", "reminders"),
    "workforce_": _t("队伍建设事项（证书到期、述职考核）", "reminders", "/admin/workforce"),
    "funds_": _t("慈善资源动态", "other", "/admin/funds/sources"),
    "escalation_": _t("督办事项", "reminders"),
    "referral_": _t("转介动态", "other", "/admin/referrals"),
    "transfer_": _t("转档动态", "other"),
}
DEFAULT: Final = _t("平台通知", "other")


def template_for(kind: str) -> Template:
    found = TEMPLATES.get(kind)
    if found is not None:
        return found
    for prefix, t in PREFIXES.items():
        if kind.startswith(prefix):
            return t
    return DEFAULT


def is_urgent(kind: str, data: dict[str, Any] | None) -> bool:
    """Urgent (sent at once, quiet hours or not): the notifier said so, the kind always is, or an escalation reached
    the supervisor or the district."""
    data = data or {}
    if data.get("urgent") is True or template_for(kind).urgent:
        return True
    level = data.get("level")
    return kind.startswith("escalation_") and isinstance(level, int) and level >= 2


def group_of(kind: str, data: dict[str, Any] | None) -> str:
    return "urgent" if is_urgent(kind, data) else template_for(kind).group


def _deadline(data: dict[str, Any]) -> str:
    """The deadline the notification names, in the district's time ("" when none): only these date fields."""
    for name in ("due_at", "deadline", "due_on", "oldest_due", "review_date"):
        raw = data.get(name)
        if not isinstance(raw, str) or not raw:
            continue
        try:
            if len(raw) == 10:
                return dt.date.fromisoformat(raw).strftime("%m月%d日")
            instant = dt.datetime.fromisoformat(raw)
        except ValueError:
            continue
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=dt.UTC)
        return instant.astimezone(clock.DISTRICT_TZ).strftime("%m月%d日 %H:%M")
    return ""


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    sms_code: str
    params: dict[str, str]


def values(kind: str, data: dict[str, Any] | None, public_url: str) -> dict[str, str]:
    """The placeholders' values: the only things a message may say."""
    data = data or {}
    t = template_for(kind)
    count = data.get("count")
    deadline = _deadline(data)
    level = data.get("level")
    level_label = ESCALATION_LEVELS.get(level, "") if isinstance(level, int) and kind.startswith("escalation_") else ""
    return {
        "label": t.label,
        "count": str(count) if isinstance(count, int) and count > 0 else "1",
        "deadline": f"期限：{deadline}。" if deadline else "",
        "link": public_url.rstrip("/") + t.path,
        "level": f"（{level_label}）" if level_label else "",
    }


def render(kind: str, data: dict[str, Any] | None, public_url: str) -> Rendered:
    t = template_for(kind)
    v = values(kind, data, public_url)
    group = group_of(kind, data)
    return Rendered(
        subject=t.subject.format(**v),
        body=t.body.format(**v),
        sms_code=SMS_TEMPLATES[group],
        params={"label": v["label"], "count": v["count"], "deadline": v["deadline"], "link": v["link"]},
    )


def render_test(public_url: str) -> Rendered:
    link = public_url.rstrip("/") + "/admin/account/notifications"
    return Rendered(
        subject=f"【{BRAND}】测试消息",
        body=f"这是一条测试消息：您的通知设置可以收到平台的消息。\n通知设置：{link}\n",
        sms_code=SMS_TEMPLATES["other"],
        params={"label": "测试消息", "count": "1", "deadline": "", "link": link},
    )


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
