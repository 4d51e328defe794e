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


Verdict = Literal["met", "partly_met", "not_met", "withdrawn"]
ContactField = Literal["guardian_name", "guardian_phone", "address"]


class ReferralIn(msgspec.Struct, forbid_unknown_fields=True):
    need_id: PositiveId
    service_id: PositiveId
    share_note: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    consent_override_reason: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)] | None = None
    # The file's contact fields the provider may read while it holds the referral (none unless chosen).
    share_contact: Annotated[list[ContactField], msgspec.Meta(max_length=3)] = []


class ShareIn(msgspec.Struct, forbid_unknown_fields=True):
    """The contact fields of the file the provider may read while it holds the referral (empty: none)."""

    fields: Annotated[list[ContactField], msgspec.Meta(max_length=3)]


class VerdictIn(msgspec.Struct, forbid_unknown_fields=True):
    """The caseworker's verdict at the close, after the follow-up visit; the need takes it."""

    verdict: Verdict
    note: Annotated[str, msgspec.Meta(max_length=2000)] = ""
    # Send the need back to the open list (to refer again) after a partial or failed outcome.
    reopen_need: bool = False


class ContactOut(msgspec.Struct):
    """Contact details of the file shared for field work: only the fields the director chose, only while held."""

    guardian_name: str | None = None
    guardian_relation: str | None = None
    guardian_phone: str | None = None
    address: str | None = None


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
    # The caseworker's verdict at the close: what the need and every report show (the outcome is the proposal).
    verdict: str | None = None
    verdict_label: str | None = None
    verdict_note: str | None = None
    need_status: str | None = None
    need_status_label: str | None = None
    # The first service contact is due this long after the acceptance (by the need's urgency); None until accepted.
    contact_due_at: dt.datetime | None = None
    escalation_level: int = 0
    escalation_label: str = ""
    shared_fields: list[str] = []
    # The shared contact fields, to the provider while it holds the referral; None otherwise.
    contact: ContactOut | None = None


class ReferralList(msgspec.Struct):
    items: list[ReferralOut]
    total: int
