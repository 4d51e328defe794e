"""Request and response bodies of volunteers (``volunteers.service``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec

from marketplace.ids import MAX_ID

Id = Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]
Status = Literal["active", "paused", "left"]
Skill = Literal[
    "tutoring",
    "companionship",
    "arts_sports",
    "medical",
    "legal",
    "photography",
    "driving",
    "reading",
    "first_aid",
    "translation",
    "handicraft",
]
Name = Annotated[str, msgspec.Meta(min_length=2, max_length=40)]
IdNumber = Annotated[str, msgspec.Meta(min_length=1, max_length=18)]
# A mainland mobile or landline number as typed (digits, spaces, dashes, a leading +).
Phone = Annotated[str, msgspec.Meta(max_length=20, pattern=r"^(\+?[0-9][0-9 \-]{4,18})?$")]
Availability = Annotated[str, msgspec.Meta(max_length=200)]
Skills = Annotated[list[Skill], msgspec.Meta(max_length=11)]


class VolunteerIn(msgspec.Struct, forbid_unknown_fields=True):
    """A person registering as a volunteer. Gender and birth date are read from the identity number. A director
    registers in their own community; a supervisor in their street (``community_id`` optional); the district names
    the street."""

    name: Name
    id_number: IdNumber
    phone: Phone = ""
    street_id: Id | None = None
    community_id: Id | None = None
    skills: Skills = msgspec.field(default_factory=list)
    availability: Availability = ""
    # A volunteer of 16 or 17: the guardian's written consent was seen.
    guardian_consent: bool = False


class VolunteerPatch(msgspec.Struct, forbid_unknown_fields=True):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    phone: Phone | msgspec.UnsetType = msgspec.UNSET
    skills: Skills | msgspec.UnsetType = msgspec.UNSET
    availability: Availability | msgspec.UnsetType = msgspec.UNSET
    status: Status | msgspec.UnsetType = msgspec.UNSET
    community_id: Id | msgspec.UnsetType | None = msgspec.UNSET


class VolunteerMembershipIn(msgspec.Struct, forbid_unknown_fields=True):
    team_id: Id
    joined_on: dt.date | None = None


class VolunteerLeaveIn(msgspec.Struct, forbid_unknown_fields=True):
    left_on: dt.date | None = None


class VolunteerHoursIn(msgspec.Struct, forbid_unknown_fields=True):
    """Minutes served at an activity (its day) or on a referral (``served_on``, default today): one of the two."""

    minutes: Annotated[int, msgspec.Meta(ge=1, le=24 * 60)]
    activity_id: Id | None = None
    referral_id: Id | None = None
    served_on: dt.date | None = None
    task: Annotated[str, msgspec.Meta(max_length=100)] = ""


class VolunteerCertificateIn(msgspec.Struct, forbid_unknown_fields=True):
    period_from: dt.date
    period_to: dt.date


class VolunteerMembershipOut(msgspec.Struct):
    id: int
    volunteer_id: int
    team_id: int
    team_name: str
    team_street_id: int
    organization_id: int | None
    joined_on: dt.date
    left_on: dt.date | None


class VolunteerOut(msgspec.Struct):
    """A volunteer as the caller may see them: the name, identity number and phone masked except to those who manage
    the volunteer (the number is shown whole only on the district's single read, audited)."""

    id: int
    name: str
    # No digit to the roles that see the birth date, the last 4 to the district and the auditor, nothing to others.
    id_number_masked: str
    # The whole number: on the district admin's single read only (audited), else None.
    id_number_full: str | None
    gender: str
    gender_label: str
    birth_date: dt.date | None
    age: int
    guardian_consent: bool
    phone: str
    street_id: int
    street_name: str
    community_id: int | None
    community_name: str
    skills: list[str]
    skill_labels: list[str]
    availability: str
    status: str
    status_label: str
    registered_on: dt.date
    registered_by: int | None
    minutes_this_year: int
    teams: list[VolunteerMembershipOut]


class VolunteerList(msgspec.Struct):
    items: list[VolunteerOut]
    total: int


class VolunteerHoursOut(msgspec.Struct):
    id: int
    volunteer_id: int
    served_on: dt.date
    minutes: int
    task: str
    # What was served: the activity's title at its place, or "个案服务 #<referral id>" (never the child).
    what: str
    activity_id: int | None
    referral_id: int | None
    street_id: int
    reverses_id: int | None
    reversed: bool
    logged_by: int | None
    created_at: dt.datetime


class VolunteerHoursList(msgspec.Struct):
    items: list[VolunteerHoursOut]
    total: int
    total_minutes: int


class VolunteerCertificateOut(msgspec.Struct):
    id: int
    number: str
    volunteer_id: int
    volunteer_name: str
    period_from: dt.date
    period_to: dt.date
    total_minutes: int
    hours: float
    entries: int
    issued_on: dt.date
    issued_by: int | None
    code: str
    superseded_by_id: int | None
    verify_url: str


class VolunteerCertificateCheck(msgspec.Struct):
    """What the public verification answers: whether the code is a certificate the district issued and still
    stands by, with the masked name (张*), the period and the hours; never the identity number or the phone."""

    valid: bool
    status: Literal["valid", "superseded", "invalid"]
    number: str | None = None
    name: str | None = None
    period_from: dt.date | None = None
    period_to: dt.date | None = None
    total_minutes: int | None = None
    hours: float | None = None
    issued_on: dt.date | None = None


class VolunteerTotalRow(msgspec.Struct):
    id: int
    name: str
    volunteers: int
    entries: int
    minutes: int
    hours: float


class VolunteerTotals(msgspec.Struct):
    year: int
    streets: list[VolunteerTotalRow]
    teams: list[VolunteerTotalRow]
    total_minutes: int
