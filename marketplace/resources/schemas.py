from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec

from marketplace.ids import BodyId as PositiveId
from marketplace.resources.taxonomy import (
    DELIVERY_MODES,
    FIVE_SOCIETIES,
    FUNDING_SOURCES,
    ORGANIZATION_KINDS,
)

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Short = Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
Phone = Annotated[str, msgspec.Meta(pattern=r"^[0-9+\-() ]{5,40}$")]
Text = Annotated[str, msgspec.Meta(max_length=5000)]
Age = Annotated[int, msgspec.Meta(ge=0, le=18)]
NonNegInt = Annotated[int, msgspec.Meta(ge=0, le=100_000)]
Fen = Annotated[int, msgspec.Meta(ge=0, le=10_000_000_000)]
Code = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]

KINDS = tuple(ORGANIZATION_KINDS)
MODES = tuple(DELIVERY_MODES)
SOURCES = tuple(FUNDING_SOURCES)
SOCIETIES = tuple(FIVE_SOCIETIES)


class OrganizationIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    kind: Code
    credit_code: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    contact_name: Short
    contact_phone: Phone
    street_ids: list[PositiveId] = []
    description: Text = ""
    address: Annotated[str, msgspec.Meta(max_length=300)] = ""


class OrganizationPatch(msgspec.Struct, forbid_unknown_fields=True):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    kind: Code | msgspec.UnsetType = msgspec.UNSET
    contact_name: Short | msgspec.UnsetType = msgspec.UNSET
    contact_phone: Phone | msgspec.UnsetType = msgspec.UNSET
    street_ids: list[PositiveId] | msgspec.UnsetType = msgspec.UNSET
    description: Text | msgspec.UnsetType = msgspec.UNSET
    address: Annotated[str, msgspec.Meta(max_length=300)] | msgspec.UnsetType = msgspec.UNSET


class OrganizationOut(msgspec.Struct):
    id: int
    name: str
    kind: str
    kind_label: str
    credit_code: str
    contact_name: str
    contact_phone: str
    street_ids: list[int]
    description: str
    address: str
    status: str
    status_label: str
    approved_at: dt.datetime | None
    created_at: dt.datetime


class ReasonIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=500)] = ""


class ServiceIn(msgspec.Struct, forbid_unknown_fields=True):
    organization_id: PositiveId
    title: Name
    categories: Annotated[list[Code], msgspec.Meta(min_length=1, max_length=10)]
    capacity_per_month: NonNegInt
    description: Text = ""
    eligibility: Text = ""
    child_categories: list[Code] = []
    age_min: Age = 0
    age_max: Age = 18
    street_ids: list[PositiveId] = []
    cost_per_case_fen: Fen = 0
    delivery_mode: Code = "in_person"
    funding_source: Code = "free"
    schedule: Annotated[str, msgspec.Meta(max_length=300)] = ""
    wait_time_days: NonNegInt = 0
    fees_text: Annotated[str, msgspec.Meta(max_length=300)] = ""
    five_societies: list[Code] = msgspec.field(default_factory=lambda: ["social_organization"])
    contact_phone: Annotated[str, msgspec.Meta(max_length=40)] = ""
    assured_on: dt.date | None = None


class ServiceChanges(msgspec.Struct, forbid_unknown_fields=True):
    """The listing fields a published service changes only through a revision the district reviews."""

    title: Name | msgspec.UnsetType = msgspec.UNSET
    description: Text | msgspec.UnsetType = msgspec.UNSET
    eligibility: Text | msgspec.UnsetType = msgspec.UNSET
    categories: Annotated[list[Code], msgspec.Meta(min_length=1, max_length=10)] | msgspec.UnsetType = msgspec.UNSET
    child_categories: list[Code] | msgspec.UnsetType = msgspec.UNSET
    age_min: Age | msgspec.UnsetType = msgspec.UNSET
    age_max: Age | msgspec.UnsetType = msgspec.UNSET
    street_ids: list[PositiveId] | msgspec.UnsetType = msgspec.UNSET
    capacity_per_month: NonNegInt | msgspec.UnsetType = msgspec.UNSET
    cost_per_case_fen: Fen | msgspec.UnsetType = msgspec.UNSET
    delivery_mode: Code | msgspec.UnsetType = msgspec.UNSET
    funding_source: Code | msgspec.UnsetType = msgspec.UNSET
    schedule: Annotated[str, msgspec.Meta(max_length=300)] | msgspec.UnsetType = msgspec.UNSET
    wait_time_days: NonNegInt | msgspec.UnsetType = msgspec.UNSET
    fees_text: Annotated[str, msgspec.Meta(max_length=300)] | msgspec.UnsetType = msgspec.UNSET
    five_societies: list[Code] | msgspec.UnsetType = msgspec.UNSET
    contact_phone: Annotated[str, msgspec.Meta(max_length=40)] | msgspec.UnsetType = msgspec.UNSET


class ServicePatch(ServiceChanges, forbid_unknown_fields=True):
    assured_on: dt.date | msgspec.UnsetType | None = msgspec.UNSET


class RevisionFieldOut(msgspec.Struct):
    field: str
    label: str
    current: Any
    proposed: Any


class ServiceRevisionOut(msgspec.Struct):
    id: int
    service_id: int
    service_title: str
    service_status: str
    organization_id: int
    organization_name: str
    status: str
    status_label: str
    open: bool
    changes: dict[str, Any]
    diff: list[RevisionFieldOut]
    reason: str
    allowed_actions: list[str]
    created_at: dt.datetime
    created_by: int | None
    updated_at: dt.datetime
    submitted_at: dt.datetime | None
    submitted_by: int | None
    decided_at: dt.datetime | None
    decided_by: int | None


class ServiceRevisionList(msgspec.Struct):
    items: list[ServiceRevisionOut]
    total: int


class ReturnIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=500)]


class ServiceOut(msgspec.Struct):
    id: int
    organization_id: int
    organization_name: str
    title: str
    description: str
    eligibility: str
    categories: list[str]
    category_labels: list[str]
    child_categories: list[str]
    age_min: int
    age_max: int
    street_ids: list[int]
    district_wide: bool
    capacity_per_month: int
    capacity_left: int
    cost_per_case_fen: int
    delivery_mode: str
    funding_source: str
    schedule: str
    wait_time_days: int
    fees_text: str
    five_societies: list[str]
    contact_phone: str
    assured_on: dt.date | None
    stale: bool
    status: str
    status_label: str
    status_note: str
    allowed_transitions: list[str]
    published_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


class ServiceList(msgspec.Struct):
    items: list[ServiceOut]
    total: int
    facets: dict[str, dict[str, int]]


class OrganizationList(msgspec.Struct):
    items: list[OrganizationOut]
    total: int


class TaxonomyItem(msgspec.Struct):
    code: str
    label: str


class TaxonomyOut(msgspec.Struct):
    service_categories: list[TaxonomyItem]
    child_categories: list[TaxonomyItem]
    organization_kinds: list[TaxonomyItem]
    five_societies: list[TaxonomyItem]
    delivery_modes: list[TaxonomyItem]
    funding_sources: list[TaxonomyItem]
    service_statuses: list[TaxonomyItem]


class SocialWorkerIn(msgspec.Struct, forbid_unknown_fields=True):
    organization_id: PositiveId
    name: Short
    qualification: Annotated[str, msgspec.Meta(max_length=40)] = ""
    specialties: list[Code] = []
    street_ids: list[PositiveId] = []
    phone: Annotated[str, msgspec.Meta(max_length=40)] = ""
    max_caseload: Annotated[int, msgspec.Meta(ge=1, le=500)] = 20


class SocialWorkerPatch(msgspec.Struct, forbid_unknown_fields=True):
    name: Short | msgspec.UnsetType = msgspec.UNSET
    qualification: Annotated[str, msgspec.Meta(max_length=40)] | msgspec.UnsetType = msgspec.UNSET
    specialties: list[Code] | msgspec.UnsetType = msgspec.UNSET
    street_ids: list[PositiveId] | msgspec.UnsetType = msgspec.UNSET
    phone: Annotated[str, msgspec.Meta(max_length=40)] | msgspec.UnsetType = msgspec.UNSET
    max_caseload: Annotated[int, msgspec.Meta(ge=1, le=500)] | msgspec.UnsetType = msgspec.UNSET
    active: bool | msgspec.UnsetType = msgspec.UNSET


class SocialWorkerOut(msgspec.Struct):
    id: int
    organization_id: int
    name: str
    qualification: str
    specialties: list[str]
    street_ids: list[int]
    # The worker's own number: for the district's roles and the worker's organization; "" for everyone else.
    phone: str
    max_caseload: int
    active: bool
    # How to reach the worker: the worker's number where ``phone`` is shown, else the organization's channel.
    contact_channel: str = ""


class VolunteerTeamIn(msgspec.Struct, forbid_unknown_fields=True):
    street_id: PositiveId
    name: Name
    organization_id: PositiveId | None = None
    member_count: NonNegInt = 0
    skills: list[Code] = []
    contact_name: Annotated[str, msgspec.Meta(max_length=80)] = ""
    contact_phone: Annotated[str, msgspec.Meta(max_length=40)] = ""


class VolunteerTeamPatch(msgspec.Struct, forbid_unknown_fields=True):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    member_count: NonNegInt | msgspec.UnsetType = msgspec.UNSET
    skills: list[Code] | msgspec.UnsetType = msgspec.UNSET
    contact_name: Annotated[str, msgspec.Meta(max_length=80)] | msgspec.UnsetType = msgspec.UNSET
    contact_phone: Annotated[str, msgspec.Meta(max_length=40)] | msgspec.UnsetType = msgspec.UNSET
    active: bool | msgspec.UnsetType = msgspec.UNSET


class VolunteerTeamOut(msgspec.Struct):
    id: int
    street_id: int
    organization_id: int | None
    name: str
    member_count: int
    skills: list[str]
    contact_name: str
    # The contact person's mobile: for the district's roles and the team's own organization; "" for everyone else.
    contact_phone: str
    active: bool
    # How to reach the team: the contact's number where ``contact_phone`` is shown, else the organization's channel
    # (its registered contact phone; "" for a street's team without an organization).
    contact_channel: str = ""


class SocialWorkerList(msgspec.Struct):
    items: list[SocialWorkerOut]
    total: int


class VolunteerTeamList(msgspec.Struct):
    items: list[VolunteerTeamOut]
    total: int
