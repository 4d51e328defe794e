"""Request and response bodies of guardianship assessments and arrangements."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec

Text = Annotated[str, msgspec.Meta(max_length=1000)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
Phone = Annotated[str, msgspec.Meta(pattern=r"^[0-9+\-() ]{5,20}$")]
Institution = Annotated[str, msgspec.Meta(min_length=2, max_length=120)]
Outcome = Literal["returned_home", "entrusted", "long_term_state", "adopted"]
AssessmentId = Annotated[int, msgspec.Meta(ge=1, le=2_147_483_647)]
Score = Annotated[int, msgspec.Meta(ge=0, le=100)]


# ---------------------------------------------------------------- the instrument


class ChoiceOut(msgspec.Struct):
    value: int
    label: str


class ItemOut(msgspec.Struct):
    code: str
    label: str
    critical: bool
    scale: list[ChoiceOut]


class DomainOut(msgspec.Struct):
    code: str
    label: str
    weight: int
    items: list[ItemOut]


class BandOut(msgspec.Struct):
    code: str
    label: str
    min_score: int
    recommended: str
    recommended_label: str
    recommendation: str
    allows_return: bool


class InstrumentOut(msgspec.Struct):
    code: str
    version: int
    title: str
    domains: list[DomainOut]
    bands: list[BandOut]


# ---------------------------------------------------------------- assessments


class AssessmentIn(msgspec.Struct, forbid_unknown_fields=True):
    """Answers to every item of the current instrument (item code → a value of its scale); the server scores them."""

    answers: dict[Annotated[str, msgspec.Meta(max_length=40)], Annotated[int, msgspec.Meta(ge=-1000, le=1000)]]
    assessed_on: dt.date | None = None
    note: Text = ""


class DomainScoreOut(msgspec.Struct):
    code: str
    label: str
    weight: int
    percent: int


class AssessmentOut(msgspec.Struct):
    id: int
    child_id: int
    instrument_code: str
    instrument_version: int
    answers: dict[str, int]
    domains: list[DomainScoreOut]
    score: int
    result: str
    result_label: str
    recommended: str
    recommended_label: str
    recommendation: str
    allows_return: bool
    critical_items: list[str]
    assessed_on: dt.date
    note: str
    assessor_id: int | None
    assessor_name: str
    created_at: dt.datetime


class AssessmentList(msgspec.Struct):
    items: list[AssessmentOut]
    total: int


# ---------------------------------------------------------------- entrusted guardianship


class EntrustedIn(msgspec.Struct, forbid_unknown_fields=True):
    person_name: Name
    relationship: Annotated[str, msgspec.Meta(min_length=1, max_length=30)]
    contact_phone: Phone
    signed_on: dt.date
    # Default: a year after the signature (``taxonomy.ENTRUSTED_REVIEW_MONTHS``).
    review_on: dt.date | None = None
    note: Text = ""


class RenewIn(msgspec.Struct, forbid_unknown_fields=True):
    """A new confirmation signed on ``signed_on``; the person and contact carry over unless given."""

    signed_on: dt.date
    review_on: dt.date | None = None
    person_name: Name | None = None
    relationship: Annotated[str, msgspec.Meta(min_length=1, max_length=30)] | None = None
    contact_phone: Phone | None = None
    note: Text = ""


class EndIn(msgspec.Struct, forbid_unknown_fields=True):
    ended_on: dt.date
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class EntrustedOut(msgspec.Struct):
    id: int
    child_id: int
    child_name: str
    person_name: str
    relationship: str
    contact_phone_masked: str
    signed_on: dt.date
    review_on: dt.date
    days_to_review: int
    status: str
    status_label: str
    note: str
    renewed_from_id: int | None
    ended_on: dt.date | None
    end_reason: str
    lapsed_at: dt.datetime | None
    created_at: dt.datetime


class EntrustedList(msgspec.Struct):
    items: list[EntrustedOut]
    total: int


# ---------------------------------------------------------------- state guardianship


class TemporaryIn(msgspec.Struct, forbid_unknown_fields=True):
    institution: Institution
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]
    started_on: dt.date


class TemporaryEndIn(msgspec.Struct, forbid_unknown_fields=True):
    """Ending with ``returned_home`` names the assessment (made after the start) whose result allows return."""

    ended_on: dt.date
    outcome: Outcome
    assessment_id: AssessmentId | None = None
    note: Text = ""


class TemporaryOut(msgspec.Struct):
    id: int
    child_id: int
    institution: str
    reason: str
    started_on: dt.date
    status: str
    status_label: str
    ended_on: dt.date | None
    outcome: str | None
    outcome_label: str | None
    assessment_id: int | None
    end_note: str
    created_at: dt.datetime


class LongTermIn(msgspec.Struct, forbid_unknown_fields=True):
    document_no: Annotated[str, msgspec.Meta(min_length=2, max_length=80)]
    decided_on: dt.date
    institution: Institution
    started_on: dt.date
    note: Text = ""


class LongTermOut(msgspec.Struct):
    id: int
    child_id: int
    document_no: str
    decided_on: dt.date
    institution: str
    started_on: dt.date
    note: str
    created_at: dt.datetime


class GuardianshipOut(msgspec.Struct):
    """A child's guardianship: the file's arrangement now, the arrangement record behind it and the history."""

    child_id: int
    guardianship: str
    guardianship_label: str
    entrusted: EntrustedOut | None
    temporary: TemporaryOut | None
    long_term: LongTermOut | None
    latest_assessment: AssessmentOut | None
    entrusted_history: list[EntrustedOut]
    temporary_history: list[TemporaryOut]
    long_term_history: list[LongTermOut]
    assessments_total: int
