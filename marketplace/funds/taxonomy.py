"""The funds' vocabularies, kept as data: the kinds of fund (charity resources of the five-society plan) and the
states of a micro-project (民生微实事项目)."""

from __future__ import annotations

from typing import Final

# Every kind of fund the district accounts for. A street foundation and a micro-project fund belong to a street.
FUND_KINDS: Final[dict[str, str]] = {
    "public_welfare": "公益基金",
    "micro_project": "民生微实事",
    "street_foundation": "街道基金会",
    "welfare_lottery": "福彩公益金",
    "other": "其他资金",
}
STREET_KINDS: Final = frozenset({"micro_project", "street_foundation"})

# 申报 → 立项 → 实施 → 验收 (or 不予立项 from 申报).
PROJECT_STATUSES: Final[dict[str, str]] = {
    "declared": "申报",
    "approved": "立项",
    "in_progress": "实施",
    "accepted": "验收",
    "rejected": "不予立项",
}
# The states in which a project's amount is held on its fund (and offered to matching for its category).
PROJECT_HOLDING: Final = frozenset({"approved", "in_progress"})


def kind_label(kind: str) -> str:
    return FUND_KINDS.get(kind, kind)


# The notices the funds send in the app (marketplace.cases.notifications), by kind.
NOTIFICATION_KINDS: Final[dict[str, str]] = {
    "funds_project_approved": "民生微实事项目立项",
}
