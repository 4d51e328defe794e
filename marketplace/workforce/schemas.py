"""Request and response bodies of the workforce: courses, attendance, certificates, people and the yearly
assessments (``workforce.service``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec

from marketplace.ids import MAX_ID

TrainingKind = Literal["pre_service", "business", "thematic", "rotation", "online"]
CertificateKind = Literal["director_post", "supervisor_post", "social_worker", "mental_health", "first_aid"]
Year = Annotated[int, msgspec.Meta(ge=2000, le=2100)]
Hours = Annotated[float, msgspec.Meta(gt=0, le=500)]
UserId = Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]
Text200 = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class WorkforceCourseIn(msgspec.Struct, forbid_unknown_fields=True):
    """A training course. A supervisor's course is their street's; the district's may name a street or none."""

    title: Text200
    kind: TrainingKind
    organizer: Text200
    starts_on: dt.date
    ends_on: dt.date
    hours: Hours
    place: Annotated[str, msgspec.Meta(max_length=300)] = ""
    street_id: Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)] | None = None


class WorkforceCourseOut(msgspec.Struct):
    id: int
    title: str
    kind: str
    kind_label: str
    organizer: str
    starts_on: dt.date
    ends_on: dt.date
    hours: float
    place: str
    street_id: int | None
    street_name: str
    created_by: int | None
    attendees: int
    created_at: dt.datetime


class WorkforceCourseList(msgspec.Struct):
    items: list[WorkforceCourseOut]
    total: int


class WorkforceAttendanceIn(msgspec.Struct, forbid_unknown_fields=True):
    """Who attended the course, the hours attended and whether they passed (recorded again: replaced)."""

    user_id: UserId
    hours: Hours
    passed: bool = True


class WorkforceAttendanceOut(msgspec.Struct):
    id: int
    course_id: int
    course_title: str
    course_kind_label: str
    starts_on: dt.date
    user_id: int
    user_name: str
    hours: float
    passed: bool
    recorded_at: dt.datetime


class WorkforceCertificateIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: CertificateKind
    number: Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
    issued_on: dt.date
    issuer: Text200
    expires_on: dt.date | None = None


class WorkforceCertificateOut(msgspec.Struct):
    id: int
    user_id: int
    kind: str
    kind_label: str
    number: str
    issued_on: dt.date
    expires_on: dt.date | None
    issuer: str
    # valid | expiring (within the notice days) | expired
    state: str
    state_label: str
    days_left: int | None


class WorkforceGradeOut(msgspec.Struct):
    year: int
    assessment_id: int
    grade: str
    grade_label: str
    result: float


class WorkforcePersonOut(msgspec.Struct):
    user_id: int
    name: str
    role: str
    role_label: str
    street_id: int | None
    street_name: str
    community_id: int | None
    community_name: str
    year: int
    hours: float
    required_hours: float
    certificates: int
    certificates_expiring: int
    certificates_expired: int
    latest_grade: WorkforceGradeOut | None


class WorkforcePersonList(msgspec.Struct):
    items: list[WorkforcePersonOut]
    total: int


class WorkforcePersonDetail(msgspec.Struct):
    person: WorkforcePersonOut
    attendance: list[WorkforceAttendanceOut]
    certificates: list[WorkforceCertificateOut]
    assessments: list[WorkforceAssessmentBrief]


class WorkforceIndicatorOut(msgspec.Struct):
    code: str
    label: str
    method: str
    numerator: float
    denominator: float
    score: float
    weight: float


class WorkforceAssessmentBrief(msgspec.Struct):
    id: int
    user_id: int
    user_name: str
    role: str
    role_label: str
    year: int
    revision: int
    street_id: int | None
    street_name: str
    community_id: int | None
    community_name: str
    status: str
    status_label: str
    result: float | None
    grade: str | None
    grade_label: str


class WorkforceAssessmentList(msgspec.Struct):
    items: list[WorkforceAssessmentBrief]
    total: int


class WorkforceAssessmentOut(msgspec.Struct):
    id: int
    user_id: int
    user_name: str
    role: str
    role_label: str
    year: int
    revision: int
    street_id: int | None
    street_name: str
    community_id: int | None
    community_name: str
    status: str
    status_label: str
    indicators: list[WorkforceIndicatorOut]
    computed_at: dt.datetime | None
    self_report: str
    claims: list[str]
    self_reported_at: dt.datetime | None
    reviewer_score: int | None
    reviewer_score_weight: float
    reviewer_comment: str
    scored_by: int | None
    scored_at: dt.datetime | None
    # The result as it stands (final once confirmed): weighted indicators + the reviewer's score.
    result: float | None
    grade: str | None
    grade_label: str
    veto_reason: str
    confirmed_by: int | None
    confirmed_at: dt.datetime | None
    supersedes_id: int | None
    superseded_by_id: int | None
    correction_reason: str


class WorkforceAssessmentOpenIn(msgspec.Struct, forbid_unknown_fields=True):
    user_id: UserId
    year: Year


class WorkforceSelfReportIn(msgspec.Struct, forbid_unknown_fields=True):
    """The person's own account of the year (述职): free text and the things they claim (one line each)."""

    text: Annotated[str, msgspec.Meta(min_length=1, max_length=5000)]
    claims: Annotated[
        list[Annotated[str, msgspec.Meta(min_length=1, max_length=200)]], msgspec.Meta(max_length=20)
    ] = []


class WorkforceScoreIn(msgspec.Struct, forbid_unknown_fields=True):
    score: Annotated[int, msgspec.Meta(ge=0, le=100)]
    comment: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]


class WorkforceConfirmIn(msgspec.Struct, forbid_unknown_fields=True):
    """The district confirms; a veto (一票否决, with its reason) makes the grade 不合格 whatever the result."""

    veto_reason: Annotated[str, msgspec.Meta(max_length=500)] = ""


class WorkforceCorrectionIn(msgspec.Struct, forbid_unknown_fields=True):
    """A confirmed assessment corrected: a new revision superseding it (to be confirmed again)."""

    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    score: Annotated[int, msgspec.Meta(ge=0, le=100)] | None = None
    comment: Annotated[str, msgspec.Meta(max_length=2000)] = ""
