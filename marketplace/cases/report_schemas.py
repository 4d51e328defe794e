"""Request and response bodies of mandatory reports (强制报告) as records: ``/api/v1/mandatory-reports`` and the
child file's ``POST /api/v1/children/{id}/reports``."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec

from marketplace.ids import BodyId

Code = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
# Instants must carry their offset: a naive time is ambiguous by eight hours in the district.
Instant = Annotated[dt.datetime, msgspec.Meta(tz=True)]
ReportKind = Literal["lives_alone", "missing", "guardianship_lost", "abuse_suspected", "other"]
StepKind = Literal[
    "police_notified",
    "police_arrived",
    "medical",
    "temporary_care",
    "guardian_contacted",
    "guardianship_assessment",
    "guardianship_intervention",
    "other",
]
Description = Annotated[str, msgspec.Meta(min_length=1, max_length=5000)]
Note = Annotated[str, msgspec.Meta(max_length=2000)]


class ReportIn(msgspec.Struct, forbid_unknown_fields=True):
    """A report for a child who has a file (``POST /api/v1/children/{id}/reports``)."""

    kind: ReportKind
    description: Description
    police_notified: bool = False
    category: Code | None = None
    occurred_at: Instant | None = None
    place: Annotated[str, msgspec.Meta(max_length=300)] = ""


class MandatoryReportIn(msgspec.Struct, forbid_unknown_fields=True):
    """A report for a filed child (``child_id``) or for an unidentified child: a name or a description, and the
    place they were found. No identity number is taken here (an unknown field is refused): a file is made, or
    found, and the report linked to it later.

    ``community_id`` places an unidentified child's report: a director's own community by default; a supervisor
    names a community of their street. ``category`` (the emergency need's service category) is given with a filed
    child; for an unidentified child it is chosen when the report is linked to a file."""

    kind: ReportKind
    description: Description
    child_id: BodyId | None = None
    community_id: BodyId | None = None
    subject_name: Annotated[str, msgspec.Meta(max_length=80)] = ""
    subject_description: Annotated[str, msgspec.Meta(max_length=2000)] = ""
    place: Annotated[str, msgspec.Meta(max_length=300)] = ""
    occurred_at: Instant | None = None
    police_notified: bool = False
    category: Code | None = None

    def __post_init__(self) -> None:
        self.subject_name = self.subject_name.strip()
        self.subject_description = self.subject_description.strip()
        self.place = self.place.strip()
        if self.child_id is not None:
            if self.subject_name or self.subject_description:
                raise ValueError("a report for a filed child takes child_id, not subject_name/subject_description")
            if self.community_id is not None:
                raise ValueError("a filed child's report belongs to the child's community: omit community_id")
            return
        if not (self.subject_name or self.subject_description):
            raise ValueError("an unidentified child needs subject_name or subject_description")
        if not self.place:
            raise ValueError("an unidentified child's report needs the place they were found")
        if self.category is not None:
            raise ValueError("for an unidentified child the need's category is chosen when linking to a file")


class PoliceIn(msgspec.Struct, forbid_unknown_fields=True):
    notified_at: Instant
    station: Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
    receipt_number: Annotated[str, msgspec.Meta(min_length=1, max_length=60)]

    def __post_init__(self) -> None:
        self.station = self.station.strip()
        self.receipt_number = self.receipt_number.strip()
        if not self.station or not self.receipt_number:
            raise ValueError("station and receipt_number must not be blank")


class StepIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: StepKind
    taken_at: Instant
    note: Note = ""


class LinkIn(msgspec.Struct, forbid_unknown_fields=True):
    child_id: BodyId
    # The emergency need's service category; the report kind's default when omitted.
    category: Code | None = None


class CloseIn(msgspec.Struct, forbid_unknown_fields=True):
    note: Note = ""


class PoliceOut(msgspec.Struct):
    notified_at: dt.datetime
    station: str
    receipt_number: str
    recorded_by: int | None


class StepOut(msgspec.Struct):
    id: int
    kind: str
    kind_label: str
    taken_at: dt.datetime
    note: str
    recorded_by: int | None
    created_at: dt.datetime


class AckOut(msgspec.Struct):
    """One level's acknowledgement: due by ``due_at``; ``late`` when given after it, or still missing past it."""

    level: Literal["supervisor", "district"]
    label: str
    due_at: dt.datetime | None
    at: dt.datetime | None
    by: int | None
    late: bool
    overdue: bool


class ReportOut(msgspec.Struct):
    id: int
    # None for an unidentified child until the report is linked to a file.
    child_id: int | None
    kind: str
    kind_label: str
    description: str
    police_notified: bool
    # The emergency need (urgency 4) opened for the child; None until an unidentified child's report is linked.
    need_id: int | None
    notified_user_ids: list[int]
    created_at: dt.datetime
    community_id: int = 0
    street_id: int = 0
    subject_name: str = ""
    subject_description: str = ""
    place: str = ""
    occurred_at: dt.datetime | None = None
    status: str = "open"
    status_label: str = ""
    reported_by: int | None = None
    reporter_role: str = ""
    police: PoliceOut | None = None
    steps: list[StepOut] = msgspec.field(default_factory=list)
    acknowledgements: list[AckOut] = msgspec.field(default_factory=list)
    linked_at: dt.datetime | None = None
    linked_by: int | None = None
    closed_at: dt.datetime | None = None


class ReportList(msgspec.Struct):
    items: list[ReportOut]
    total: int
