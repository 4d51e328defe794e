from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import msgspec

from marketplace.ids import BodyId as PositiveId

Code = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
PersonName = Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
Text = Annotated[str, msgspec.Meta(max_length=5000)]
Phone = Annotated[str, msgspec.Meta(pattern=r"^[0-9+\-() ]{0,40}$")]
IdNumber = Annotated[str, msgspec.Meta(min_length=18, max_length=18)]
Urgency = Annotated[int, msgspec.Meta(ge=1, le=4)]
Gender = Literal["male", "female"]
Guardianship = Literal["family", "entrusted", "temporary_state", "long_term_state"]
Risk = Literal["critical", "high", "medium", "low"]


class ChildIn(msgspec.Struct, forbid_unknown_fields=True):
    community_id: PositiveId
    name: PersonName
    gender: Gender
    birth_date: dt.date | None  # None where the role may not see it (marketplace.masking)
    id_number: IdNumber
    categories: Annotated[list[Code], msgspec.Meta(min_length=1, max_length=10)]
    guardianship: Guardianship
    risk_level: Risk
    school: Annotated[str, msgspec.Meta(max_length=200)] = ""
    household_notes: Text = ""
    guardian_name: Annotated[str, msgspec.Meta(max_length=120)] = ""
    guardian_relation: Annotated[str, msgspec.Meta(max_length=40)] = ""
    guardian_phone: Phone = ""
    address: Annotated[str, msgspec.Meta(max_length=300)] = ""
    consent_to_share: bool = False
    share_note: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class ChildPatch(msgspec.Struct, forbid_unknown_fields=True):
    name: PersonName | msgspec.UnsetType = msgspec.UNSET
    gender: Gender | msgspec.UnsetType = msgspec.UNSET
    birth_date: dt.date | msgspec.UnsetType = msgspec.UNSET
    id_number: IdNumber | msgspec.UnsetType = msgspec.UNSET
    categories: Annotated[list[Code], msgspec.Meta(min_length=1, max_length=10)] | msgspec.UnsetType = msgspec.UNSET
    guardianship: Guardianship | msgspec.UnsetType = msgspec.UNSET
    risk_level: Risk | msgspec.UnsetType = msgspec.UNSET
    school: Annotated[str, msgspec.Meta(max_length=200)] | msgspec.UnsetType = msgspec.UNSET
    household_notes: Text | msgspec.UnsetType = msgspec.UNSET
    guardian_name: Annotated[str, msgspec.Meta(max_length=120)] | msgspec.UnsetType = msgspec.UNSET
    guardian_relation: Annotated[str, msgspec.Meta(max_length=40)] | msgspec.UnsetType = msgspec.UNSET
    guardian_phone: Phone | msgspec.UnsetType = msgspec.UNSET
    address: Annotated[str, msgspec.Meta(max_length=300)] | msgspec.UnsetType = msgspec.UNSET
    consent_to_share: bool | msgspec.UnsetType = msgspec.UNSET
    share_note: Annotated[str, msgspec.Meta(max_length=2000)] | msgspec.UnsetType = msgspec.UNSET
    status: Literal["active", "closed"] | msgspec.UnsetType = msgspec.UNSET


class Warning(msgspec.Struct):
    code: str
    message: str
    child_ids: list[int] = []
    referral_ids: list[int] = []
    need_ids: list[int] = []


class ChildOut(msgspec.Struct):
    """The file as staff with a right to it see it, field by field as ``marketplace.masking``'s policy says."""

    id: int
    community_id: int
    street_id: int
    name: str
    gender: str
    birth_date: dt.date | None  # None where the role may not see it (marketplace.masking)
    age: int
    id_number_masked: str
    categories: list[str]
    category_labels: list[str]
    guardianship: str
    guardianship_label: str
    risk_level: str
    risk_label: str
    school: str
    household_notes: str
    guardian_name: str
    guardian_relation: str
    guardian_phone_masked: str
    address_masked: str
    consent_to_share: bool
    consent_recorded_on: dt.date | None
    share_note: str
    last_visit_on: dt.date | None
    next_visit_due: dt.date
    visit_overdue: bool
    status: str
    created_at: dt.datetime
    updated_at: dt.datetime
    warnings: list[Warning] = []


class ChildSummary(msgspec.Struct):
    id: int
    community_id: int
    street_id: int
    name: str
    gender: str
    age: int
    id_number_masked: str
    categories: list[str]
    risk_level: str
    risk_label: str
    next_visit_due: dt.date
    visit_overdue: bool
    status: str


class ChildList(msgspec.Struct):
    items: list[ChildSummary]
    total: int


class NeedIn(msgspec.Struct, forbid_unknown_fields=True):
    category: Code
    urgency: Urgency
    note: Text = ""


class NeedPatch(msgspec.Struct, forbid_unknown_fields=True):
    urgency: Urgency | msgspec.UnsetType = msgspec.UNSET
    note: Text | msgspec.UnsetType = msgspec.UNSET
    # withdrawn (``cancelled`` is accepted as the old word for it); open sends a partly met or unmet need back
    # to the open list to refer again.
    status: Literal["withdrawn", "cancelled", "open"] | msgspec.UnsetType = msgspec.UNSET


class NeedOut(msgspec.Struct):
    id: int
    child_id: int
    street_id: int
    community_id: int
    category: str
    category_label: str
    urgency: int
    urgency_label: str
    note: str
    status: str
    status_label: str
    emergency: bool
    met_at: dt.datetime | None
    created_at: dt.datetime


class NeedList(msgspec.Struct):
    items: list[NeedOut]
    total: int


class VisitIn(msgspec.Struct, forbid_unknown_fields=True):
    visited_on: dt.date
    kind: Literal["home", "phone", "school", "follow_up"]
    findings: Text = ""
    next_visit_due: dt.date | None = None


class VisitOut(msgspec.Struct):
    id: int
    child_id: int
    visited_on: dt.date
    kind: str
    kind_label: str
    findings: str
    next_visit_due: dt.date
    child_next_visit_due: dt.date
    created_at: dt.datetime


class VisitList(msgspec.Struct):
    items: list[VisitOut]
    total: int


class OverdueOut(msgspec.Struct):
    child_id: int
    name: str
    community_id: int
    street_id: int
    risk_level: str
    risk_label: str
    last_visit_on: dt.date | None
    next_visit_due: dt.date
    days_overdue: int


class OverdueList(msgspec.Struct):
    items: list[OverdueOut]
    total: int


class NotificationOut(msgspec.Struct):
    id: int
    kind: str
    title: str
    body: str
    entity: str
    entity_id: int
    data: dict[str, Any]
    created_at: dt.datetime
    read_at: dt.datetime | None


class NotificationList(msgspec.Struct):
    items: list[NotificationOut]
    total: int
    unread: int
