"""Request and response bodies of ``/api/v1/intakes``: hotline calls and public reports, and their triage."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec

from marketplace.cases.report_schemas import ReportKind
from marketplace.cases.schemas import ChildIn
from marketplace.ids import BodyId

Instant = Annotated[dt.datetime, msgspec.Meta(tz=True)]
Channel = Literal[
    "hotline_12355", "street_hotline", "hotline_12345", "school", "hospital", "police", "neighbour", "other"
]
Outcome = Literal["mandatory_report", "need", "new_file", "no_action", "link_file"]
Urgency = Annotated[int, msgspec.Meta(ge=1, le=4)]
Code = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
Phone = Annotated[str, msgspec.Meta(pattern=r"^[0-9+\-() ]{0,40}$")]


class IntakeIn(msgspec.Struct, forbid_unknown_fields=True):
    """A call or report as it is taken. ``community_id``: where the child is (a director's own; a supervisor's
    street; any for the district). The child: ``child_id`` of a file in the recorder's scope, or what is known of an
    unidentified child (a name or a description, and the place)."""

    channel: Channel
    what: Annotated[str, msgspec.Meta(min_length=1, max_length=5000)]
    urgency: Urgency
    community_id: BodyId
    received_at: Instant | None = None
    anonymous: bool = False
    caller_name: Annotated[str, msgspec.Meta(max_length=80)] = ""
    caller_phone: Phone = ""
    caller_relation: Annotated[str, msgspec.Meta(max_length=40)] = ""
    place: Annotated[str, msgspec.Meta(max_length=300)] = ""
    child_id: BodyId | None = None
    subject_name: Annotated[str, msgspec.Meta(max_length=80)] = ""
    subject_description: Annotated[str, msgspec.Meta(max_length=2000)] = ""

    def __post_init__(self) -> None:
        for name in ("what", "caller_name", "caller_phone", "caller_relation", "place"):
            setattr(self, name, getattr(self, name).strip())
        self.subject_name = self.subject_name.strip()
        self.subject_description = self.subject_description.strip()
        if not self.what:
            raise ValueError("what must not be blank")
        if self.anonymous and self.caller_name:
            raise ValueError("an anonymous caller has no caller_name")
        if self.child_id is not None:
            if self.subject_name or self.subject_description:
                raise ValueError("a call about a filed child takes child_id, not subject_name/subject_description")
            return
        if not (self.subject_name or self.subject_description):
            raise ValueError("an unidentified child needs subject_name or subject_description")
        if not self.place:
            raise ValueError("an unidentified child's intake needs the place")


class TriageIn(msgspec.Struct, forbid_unknown_fields=True):
    """One triage of an intake, by ``outcome``:

    - ``mandatory_report``: ``report_kind`` (and ``police_notified``); the report is made on the intake's file or,
      for an unidentified child, with its name or description and the place;
    - ``need``: ``category`` (a service category), ``urgency`` (the intake's by default), ``note``; on the intake's
      file or the file ``child_id`` names;
    - ``new_file``: ``child``, the file as ``POST /children`` takes it (in the intake's community); after a
      mandatory report about an unidentified child, the report is linked to the new file (``category``: its
      emergency need's, the report kind's default when omitted);
    - ``link_file``: after a mandatory report about an unidentified child, ``child_id`` of the file it is about;
    - ``no_action``: ``reason``."""

    outcome: Outcome
    report_kind: ReportKind | None = None
    police_notified: bool = False
    child_id: BodyId | None = None
    category: Code | None = None
    urgency: Urgency | None = None
    note: Annotated[str, msgspec.Meta(max_length=5000)] = ""
    child: ChildIn | None = None
    reason: Annotated[str, msgspec.Meta(max_length=2000)] = ""

    def __post_init__(self) -> None:
        self.note = self.note.strip()
        self.reason = self.reason.strip()


class TriageOut(msgspec.Struct):
    id: int
    outcome: str
    outcome_label: str
    reason: str
    report_id: int | None
    need_id: int | None
    child_id: int | None
    triaged_by: int | None
    triager_role: str
    created_at: dt.datetime


class IntakeOut(msgspec.Struct):
    id: int
    channel: str
    channel_label: str
    received_at: dt.datetime
    received_by: int | None
    recorder_role: str
    anonymous: bool
    caller_name: str
    caller_phone: str
    caller_relation: str
    what: str
    place: str
    community_id: int
    street_id: int
    urgency: int
    urgency_label: str
    child_id: int | None
    subject_name: str
    subject_description: str
    due_at: dt.datetime
    overdue: bool
    status: str
    status_label: str
    outcome: str | None
    outcome_label: str
    triaged_at: dt.datetime | None
    report_id: int | None
    need_id: int | None
    escalated_at: dt.datetime | None
    created_at: dt.datetime
    triages: list[TriageOut]
    # Who was told when it was taken (the community's directors).
    notified_user_ids: list[int] = msgspec.field(default_factory=list)


class IntakeList(msgspec.Struct):
    items: list[IntakeOut]
    total: int
