"""Code tables of left-behind children's parents away from home (留守儿童父母外出务工): codes are English,
labels are what directors read. The contact rule's figures are data here, not settings: a bureau changes them with
the code review they deserve."""

from __future__ import annotations

from typing import Final

RELATIONS: Final[dict[str, str]] = {"father": "父亲", "mother": "母亲", "other": "其他监护人"}

# How often the parent is expected to contact the child: its label and the days it allows between two contacts.
FREQUENCIES: Final[dict[str, tuple[str, int]]] = {
    "weekly": ("每周", 7),
    "biweekly": ("每两周", 14),
    "monthly": ("每月", 31),
}
FREQUENCY_LABELS: Final[dict[str, str]] = {code: label for code, (label, _) in FREQUENCIES.items()}

# Days past the expected contact before the contact counts as stopped (a week's work shift, a phone out of credit).
GRACE_DAYS: Final = 7
# The street's supervisor is told once the silence reaches this many times (frequency + grace).
ESCALATE_FACTOR: Final = 2

CHANNELS: Final[dict[str, str]] = {"phone": "电话", "video": "视频", "visit_home": "回家探望", "other": "其他"}

ALERT_STATUSES: Final[dict[str, str]] = {"open": "联系中断", "resolved": "已恢复联系"}
ALERT_LEVELS: Final[dict[int, str]] = {1: "已提醒儿童主任", 2: "已升级至街道督导员"}

# The notifications this package writes (``cases.notifications.notify``), with the label the messaging settings show.
NOTIFICATION_KINDS: Final[dict[str, str]] = {
    "families_contact_lost": "留守儿童父母联系中断",
    "families_contact_lost_escalated": "留守儿童父母联系中断（已升级督导员）",
}
