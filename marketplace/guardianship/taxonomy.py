"""Code tables of guardianship arrangements. Codes are English; labels are what directors read."""

from __future__ import annotations

from typing import Final

ENTRUSTED_STATUSES: Final[dict[str, str]] = {
    "active": "有效",
    "renewed": "已续签",
    "ended": "已终止",
    "lapsed": "已过期未复核",
}

TEMPORARY_STATUSES: Final[dict[str, str]] = {"open": "临时监护中", "ended": "已结束"}

# How a temporary state guardianship ends, and the file's guardianship after it.
TEMPORARY_OUTCOMES: Final[dict[str, str]] = {
    "returned_home": "返回家庭",
    "entrusted": "转为委托监护",
    "long_term_state": "转为长期监护",
    "adopted": "依法收养",
}
OUTCOME_GUARDIANSHIP: Final[dict[str, str]] = {
    "returned_home": "family",
    "entrusted": "entrusted",
    "long_term_state": "long_term_state",
    "adopted": "family",
}

# The review of an entrusted guardianship falls due this long after the signature unless the director sets it.
ENTRUSTED_REVIEW_MONTHS: Final = 12
# The director is reminded this many days before the review (each once).
REVIEW_REMINDER_DAYS: Final[tuple[int, ...]] = (30, 7)

# What the guardianship feature tells people in the app (messaging delivers them by kind).
NOTIFICATION_KINDS: Final[dict[str, str]] = {
    "guardianship_review_due": "委托监护即将到期复核",
    "guardianship_lapsed": "委托监护已过期未复核",
}
