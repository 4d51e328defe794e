"""Request and response bodies of the 十防 checks and graded warnings."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec

Note = Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
Code = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]


class SafetyPreventionItemOut(msgspec.Struct):
    code: str
    label: str


class SafetyPreventionOut(msgspec.Struct):
    code: str
    label: str
    months: list[int]
    peak_months: list[int]
    season_note: str
    due_now: bool
    items: list[SafetyPreventionItemOut]


class SafetyPreventionList(msgspec.Struct):
    today: dt.date
    season: str
    season_label: str
    items: list[SafetyPreventionOut]


class SafetyCheckItemIn(msgspec.Struct, forbid_unknown_fields=True):
    code: Code
    answer: Literal["done", "missed", "na"]
    note: Annotated[str, msgspec.Meta(max_length=500)] = ""


class SafetyCheckIn(msgspec.Struct, forbid_unknown_fields=True):
    """A completed checklist: every item of the prevention answered. ``supersedes_id`` corrects this season's
    current check of the same prevention (it is kept, marked superseded)."""

    prevention: Code
    items: Annotated[list[SafetyCheckItemIn], msgspec.Meta(min_length=1, max_length=20)]
    checked_on: dt.date | None = None
    household_note: Annotated[str, msgspec.Meta(max_length=1000)] = ""
    supersedes_id: Annotated[int, msgspec.Meta(ge=1, le=2_147_483_647)] | None = None


class SafetyCheckItemOut(msgspec.Struct):
    code: str
    label: str
    answer: str
    answer_label: str
    note: str


class SafetyCheckOut(msgspec.Struct):
    id: int
    child_id: int
    prevention: str
    prevention_label: str
    season: str
    season_label: str
    items: list[SafetyCheckItemOut]
    missed: int
    household_note: str
    checked_on: dt.date
    checked_by: int | None
    checked_by_name: str
    current: bool
    supersedes_id: int | None
    superseded_by_id: int | None
    created_at: dt.datetime


class SafetyCheckList(msgspec.Struct):
    items: list[SafetyCheckOut]
    total: int
    season: str
    due: list[str]
    due_missing: list[str]


class SafetyReasonOut(msgspec.Struct):
    code: str
    label: str
    points: int


class SafetyWarningEventOut(msgspec.Struct):
    id: int
    kind: str
    kind_label: str
    grade: str
    grade_label: str
    from_grade: str | None
    points: int
    note: str
    actor_id: int | None
    actor_name: str
    created_at: dt.datetime


class SafetyWarningOut(msgspec.Struct):
    id: int
    child_id: int
    child_name: str
    community_id: int
    street_id: int
    grade: str
    grade_label: str
    points: int
    reasons: list[SafetyReasonOut]
    status: str
    status_label: str
    ack_due_at: dt.datetime
    ack_overdue: bool
    acknowledged_at: dt.datetime | None
    escalated: bool
    escalated_at: dt.datetime | None
    resolved_at: dt.datetime | None
    graded_at: dt.datetime
    created_at: dt.datetime
    allowed_actions: list[str]
    history: list[SafetyWarningEventOut] | None = None


class SafetyGradeCounts(msgspec.Struct):
    red: int
    orange: int
    yellow: int
    blue: int


class SafetyWarningList(msgspec.Struct):
    items: list[SafetyWarningOut]
    total: int
    counts: SafetyGradeCounts


class SafetyAcknowledgeIn(msgspec.Struct, forbid_unknown_fields=True):
    """The director has seen the warning and says what was done (the action taken)."""

    note: Note


class SafetyActionIn(msgspec.Struct, forbid_unknown_fields=True):
    """A further action (the director) or a note (the street's supervisor, the district)."""

    note: Note
