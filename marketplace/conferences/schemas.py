"""Request and response bodies of case conferences (``conferences.service``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec

Id = Annotated[int, msgspec.Meta(ge=1, le=2_147_483_647)]
Text500 = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
PartyKind = Literal[
    "school", "police", "hospital", "residents_committee", "rescue_station", "procuratorate_court", "other"
]


class ConferencePartyIn(msgspec.Struct, forbid_unknown_fields=True):
    """A named outside party: the person, their organisation and its kind; a contact if given."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
    organisation: Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
    kind: PartyKind
    contact: Annotated[str, msgspec.Meta(max_length=60)] = ""


class ConferenceIn(msgspec.Struct, forbid_unknown_fields=True):
    """Convene a conference for the child: the topic, when and where, the staff accounts invited (directors,
    supervisors and district staff of the child's scope, staff of an organization serving the child) and the
    outside parties."""

    topic: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    scheduled_at: dt.datetime
    place: Annotated[str, msgspec.Meta(max_length=120)] = ""
    participant_ids: Annotated[list[Id], msgspec.Meta(max_length=30)] = []
    parties: Annotated[list[ConferencePartyIn], msgspec.Meta(max_length=20)] = []


class ConferenceDecisionIn(msgspec.Struct, forbid_unknown_fields=True):
    """A decision: owned by an internal participant (``owner_user_id``) or by an outside party
    (``owner_party_id``, a participant of the conference) followed up by an internal participant
    (``follow_up_by``); due on a district date."""

    text: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]
    due_on: dt.date
    owner_user_id: Id | None = None
    owner_party_id: Id | None = None
    follow_up_by: Id | None = None


class ConferenceAttendanceIn(msgspec.Struct, forbid_unknown_fields=True):
    participant_id: Id
    attended: bool


class ConferenceHeldIn(msgspec.Struct, forbid_unknown_fields=True):
    """The conference was held: the minutes, who attended (a participant left out did not) and its decisions."""

    minutes: Annotated[str, msgspec.Meta(min_length=1, max_length=10_000)]
    held_at: dt.datetime | None = None
    attendance: Annotated[list[ConferenceAttendanceIn], msgspec.Meta(max_length=50)] = []
    decisions: Annotated[list[ConferenceDecisionIn], msgspec.Meta(max_length=20)] = []


class ConferenceDecisionDoneIn(msgspec.Struct, forbid_unknown_fields=True):
    note: Text500


class ConferenceReasonIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Text500


class ConferenceDecisionReviseIn(msgspec.Struct, forbid_unknown_fields=True):
    """A new owner and/or due date, with the reason: recorded as a revision, the decision's history kept."""

    reason: Text500
    due_on: dt.date | None = None
    owner_user_id: Id | None = None
    owner_party_id: Id | None = None
    follow_up_by: Id | None = None


class ConferenceParticipantOut(msgspec.Struct):
    id: int
    kind: str
    kind_label: str
    user_id: int | None
    name: str
    organisation: str
    contact: str
    attended: bool | None


class ConferenceDecisionRevisionOut(msgspec.Struct):
    old_responsible_id: int
    new_responsible_id: int
    old_due_on: dt.date
    new_due_on: dt.date
    reason: str
    revised_by: int | None
    created_at: dt.datetime


class ConferenceDecisionOut(msgspec.Struct):
    id: int
    conference_id: int
    child_id: int
    text: str
    owner: str
    owner_user_id: int | None
    owner_party_id: int | None
    responsible_id: int
    responsible_name: str
    due_on: dt.date
    status: str
    status_label: str
    overdue: bool
    stage: str
    done_note: str
    done_at: dt.datetime | None
    done_by: int | None
    cancel_reason: str
    cancelled_at: dt.datetime | None
    revisions: list[ConferenceDecisionRevisionOut]


class ConferenceOut(msgspec.Struct, omit_defaults=True):
    """A conference as its reader may see it. ``view`` "full" for the child's director, supervisor and the district;
    "participant" for a participant or decision owner outside that scope (an organization's staff): the topic, the
    date, the child's share note and their own decisions only (no name, minutes or other participants)."""

    id: int
    view: Literal["full", "participant"]
    child_id: int
    topic: str
    scheduled_at: dt.datetime
    place: str
    status: str
    status_label: str
    decisions: list[ConferenceDecisionOut]
    child_name: str | None = None
    share_note: str | None = None
    community_id: int | None = None
    street_id: int | None = None
    minutes: str | None = None
    held_at: dt.datetime | None = None
    cancel_reason: str | None = None
    convened_by: int | None = None
    created_at: dt.datetime | None = None
    participants: list[ConferenceParticipantOut] | None = None
    open_decisions: int = 0
    overdue_decisions: int = 0


class ConferenceList(msgspec.Struct):
    items: list[ConferenceOut]
    total: int


class ConferenceDecisionList(msgspec.Struct):
    items: list[ConferenceDecisionOut]
    total: int


class ConferenceCandidateOut(msgspec.Struct):
    """A staff account that may be invited to the child's conference."""

    id: int
    name: str
    role: str
    role_label: str
