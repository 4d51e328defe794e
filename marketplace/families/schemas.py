"""Request and response bodies of left-behind children's parents away from home (``families.service``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec

Relation = Literal["father", "mother", "other"]
Frequency = Literal["weekly", "biweekly", "monthly"]
Channel = Literal["phone", "video", "visit_home", "other"]
Short = Annotated[str, msgspec.Meta(max_length=60)]
Note = Annotated[str, msgspec.Meta(max_length=500)]
# A mainland mobile or landline number as typed (digits, spaces, dashes, a leading +).
Phone = Annotated[str, msgspec.Meta(max_length=20, pattern=r"^(\+?[0-9][0-9 \-]{4,18})?$")]


class ParentAwayIn(msgspec.Struct, forbid_unknown_fields=True):
    """A parent (or other guardian) of the child who works away from home."""

    relation: Relation
    work_province: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    frequency: Frequency
    name: Annotated[str, msgspec.Meta(max_length=40)] = ""
    work_city: Short = ""
    employer: Annotated[str, msgspec.Meta(max_length=120)] = ""
    job: Short = ""
    phone: Phone = ""
    wechat: Annotated[str, msgspec.Meta(max_length=40)] = ""
    away_since: dt.date | None = None
    note: Note = ""


class ParentAwayVersionIn(msgspec.Struct, forbid_unknown_fields=True):
    """What changed about a parent: a new version of the record (the old one is kept). ``returned_on`` says the
    parent came back to live with the child: no more contact is expected from then on."""

    relation: Relation | msgspec.UnsetType = msgspec.UNSET
    name: Annotated[str, msgspec.Meta(max_length=40)] | msgspec.UnsetType = msgspec.UNSET
    work_province: Annotated[str, msgspec.Meta(min_length=1, max_length=40)] | msgspec.UnsetType = msgspec.UNSET
    work_city: Short | msgspec.UnsetType = msgspec.UNSET
    employer: Annotated[str, msgspec.Meta(max_length=120)] | msgspec.UnsetType = msgspec.UNSET
    job: Short | msgspec.UnsetType = msgspec.UNSET
    phone: Phone | msgspec.UnsetType = msgspec.UNSET
    wechat: Annotated[str, msgspec.Meta(max_length=40)] | msgspec.UnsetType = msgspec.UNSET
    frequency: Frequency | msgspec.UnsetType = msgspec.UNSET
    away_since: dt.date | msgspec.UnsetType | None = msgspec.UNSET
    returned_on: dt.date | msgspec.UnsetType | None = msgspec.UNSET
    note: Note | msgspec.UnsetType = msgspec.UNSET


class ParentContactIn(msgspec.Struct, forbid_unknown_fields=True):
    contacted_on: dt.date
    channel: Channel
    note: Note = ""


class ParentVisitHomeIn(msgspec.Struct, forbid_unknown_fields=True):
    from_date: dt.date
    to_date: dt.date
    note: Note = ""


class ParentVisitHomeOut(msgspec.Struct):
    id: int
    parent_id: int
    from_date: dt.date
    to_date: dt.date
    note: str
    recorded_by: int | None
    created_at: dt.datetime


class ParentAwayOut(msgspec.Struct):
    """The current version of a parent away, with the contact the rule reads: the last contact (a call or a stay
    at home), the day the next is due by (frequency + grace) and the open alert, if the contact stopped. The phone
    and WeChat are shown in full to the child's director and the street's supervisor (who call the parent; the read
    is audited), masked to the district."""

    id: int
    lineage_id: int
    version: int
    child_id: int
    relation: str
    relation_label: str
    name: str
    work_province: str
    work_city: str
    employer: str
    job: str
    phone: str
    wechat: str
    frequency: str
    frequency_label: str
    away_since: dt.date | None
    returned_on: dt.date | None
    note: str
    created_at: dt.datetime
    last_contact_on: dt.date | None
    contact_due_on: dt.date | None
    days_silent: int | None
    alert_id: int | None
    alert_level: int | None
    visits_home: list[ParentVisitHomeOut]


class ParentAwayList(msgspec.Struct):
    items: list[ParentAwayOut]
    total: int


class ParentContactOut(msgspec.Struct):
    id: int
    parent_id: int
    child_id: int
    relation_label: str
    contacted_on: dt.date
    channel: str
    channel_label: str
    note: str
    recorded_by: int | None
    created_at: dt.datetime


class ParentContactList(msgspec.Struct):
    items: list[ParentContactOut]
    total: int


class FamilyAlertOut(msgspec.Struct):
    id: int
    parent_id: int
    child_id: int
    child_name: str
    community_id: int
    community_name: str
    street_id: int
    relation_label: str
    work_place: str
    frequency_label: str
    silent_since: dt.date
    due_on: dt.date
    days_silent: int
    level: int
    level_label: str
    status: str
    status_label: str
    opened_at: dt.datetime
    escalated_at: dt.datetime | None
    resolved_at: dt.datetime | None


class FamilyAlertList(msgspec.Struct):
    items: list[FamilyAlertOut]
    total: int
