from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import msgspec

from marketplace.ids import BodyId as PositiveId

Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]
Outcome = Literal[
    "got_help",
    "partially_helped",
    "referred_elsewhere",
    "could_not_contact",
    "not_eligible",
    "no_capacity",
    "no_longer_needed",
]


class ReferralIn(msgspec.Struct, forbid_unknown_fields=True):
    need_id: PositiveId
    service_id: PositiveId
    share_note: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    consent_override_reason: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)] | None = None


class ReasonIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Reason


class OptionalReasonIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=1000)] = ""


class OutcomeIn(msgspec.Struct, forbid_unknown_fields=True):
    outcome: Outcome
    note: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class LogIn(msgspec.Struct, forbid_unknown_fields=True):
    delivered_on: dt.date
    note: Annotated[str, msgspec.Meta(min_length=1, max_length=5000)]
    minutes: Annotated[int, msgspec.Meta(ge=0, le=24 * 60)] = 0


class LogOut(msgspec.Struct):
    id: int
    referral_id: int
    delivered_on: dt.date
    minutes: int
    note: str
    author_id: int | None
    created_at: dt.datetime


class LogList(msgspec.Struct):
    items: list[LogOut]
    total: int


class ChildView(msgspec.Struct):
    """The child as the referral shows it. Providers get the minimal form: no id, no full name."""

    age: int
    gender: str
    community_id: int
    community_name: str
    id: int | None = None
    name: str | None = None
    surname_initial: str | None = None
    risk_level: str | None = None


class NeedView(msgspec.Struct):
    id: int
    category: str
    category_label: str
    urgency: int
    note: str | None = None


class ReferralOut(msgspec.Struct):
    id: int
    status: str
    status_label: str
    need: NeedView
    child: ChildView
    service_id: int
    service_title: str
    organization_id: int
    organization_name: str
    street_id: int
    share_note: str
    plan: dict[str, Any]
    score: float | None
    consent_override: bool
    sent_at: dt.datetime
    accepted_at: dt.datetime | None
    declined_at: dt.datetime | None
    decline_reason: str | None
    started_at: dt.datetime | None
    completed_at: dt.datetime | None
    outcome: str | None
    outcome_label: str | None
    outcome_note: str | None
    closed_at: dt.datetime | None
    revoked_at: dt.datetime | None
    revoke_reason: str | None
    escalated_at: dt.datetime | None
    response_due_at: dt.datetime
    allowed_transitions: list[str]


class ReferralList(msgspec.Struct):
    items: list[ReferralOut]
    total: int
