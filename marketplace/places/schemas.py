"""Request and response bodies of the places, their staff on duty, activities and usage (``places.service``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec

PlaceKind = Literal["station", "children_home"]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Text300 = Annotated[str, msgspec.Meta(max_length=300)]
Note = Annotated[str, msgspec.Meta(max_length=2000)]
# A mainland mobile or landline number as typed (digits, spaces, dashes, a leading +).
Phone = Annotated[str, msgspec.Meta(max_length=40, pattern=r"^(\+?[0-9][0-9 \-]{4,38})?$")]
Facility = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
Count = Annotated[int, msgspec.Meta(ge=0, le=10000)]
Id = Annotated[int, msgspec.Meta(ge=1, le=2_147_483_647)]


class PlaceIn(msgspec.Struct, forbid_unknown_fields=True):
    """A street's work station (no community) or a community's children's home."""

    kind: PlaceKind
    street_id: Id
    name: Name
    community_id: Id | None = None
    address: Text300 = ""
    opening_hours: Text300 = ""
    facilities: Annotated[list[Facility], msgspec.Meta(max_length=20)] = []
    area_m2: Annotated[int, msgspec.Meta(ge=1, le=100000)] | None = None
    phone: Phone = ""
    opened_on: dt.date | None = None
    note: Note = ""


class PlacePatch(msgspec.Struct, forbid_unknown_fields=True):
    """What changes about a place. A director changes only the opening hours of their community's home."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    address: Text300 | msgspec.UnsetType = msgspec.UNSET
    opening_hours: Text300 | msgspec.UnsetType = msgspec.UNSET
    facilities: Annotated[list[Facility], msgspec.Meta(max_length=20)] | msgspec.UnsetType = msgspec.UNSET
    area_m2: Annotated[int, msgspec.Meta(ge=1, le=100000)] | msgspec.UnsetType | None = msgspec.UNSET
    phone: Phone | msgspec.UnsetType = msgspec.UNSET
    opened_on: dt.date | msgspec.UnsetType | None = msgspec.UNSET
    active: bool | msgspec.UnsetType = msgspec.UNSET
    note: Note | msgspec.UnsetType = msgspec.UNSET


class PlaceStaffIn(msgspec.Struct, forbid_unknown_fields=True):
    """A person on duty: an account of the street (``user_id``) or a named outside person (``name``)."""

    role: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    user_id: Id | None = None
    name: Annotated[str, msgspec.Meta(max_length=80)] = ""
    duty: Annotated[str, msgspec.Meta(max_length=200)] = ""
    phone: Phone = ""
    since: dt.date | None = None


class PlaceStaffLeaveIn(msgspec.Struct, forbid_unknown_fields=True):
    """The person's last day on duty (kept on the record, never deleted)."""

    until: dt.date


class PlaceStaffOut(msgspec.Struct):
    id: int
    place_id: int
    user_id: int | None
    name: str
    role: str
    role_label: str
    duty: str
    phone: str
    since: dt.date | None
    until: dt.date | None
    on_duty: bool


class PlaceOut(msgspec.Struct):
    id: int
    kind: str
    kind_label: str
    street_id: int
    street_name: str
    community_id: int | None
    community_name: str
    name: str
    address: str
    opening_hours: str
    facilities: list[str]
    facility_labels: list[str]
    area_m2: int | None
    phone: str
    opened_on: dt.date | None
    active: bool
    note: str
    activities_this_quarter: int
    staff: list[PlaceStaffOut]


class PlaceList(msgspec.Struct):
    items: list[PlaceOut]
    total: int


class PlaceActivityIn(msgspec.Struct, forbid_unknown_fields=True):
    """An activity held at a place: the children on file who took part (ids of the recorder's scope) and the
    others counted by category."""

    held_on: dt.date
    kind: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    title: Name
    minutes: Annotated[int, msgspec.Meta(ge=0, le=1440)] = 0
    description: Note = ""
    child_ids: Annotated[list[Id], msgspec.Meta(max_length=500)] = []
    other_children: Count = 0
    adults: Count = 0
    volunteers: Count = 0


class PlaceActivityPatch(msgspec.Struct, forbid_unknown_fields=True):
    """Changes to an activity: by its recorder, within ``EDIT_DAYS`` days of recording it."""

    held_on: dt.date | msgspec.UnsetType = msgspec.UNSET
    kind: Annotated[str, msgspec.Meta(min_length=1, max_length=40)] | msgspec.UnsetType = msgspec.UNSET
    title: Name | msgspec.UnsetType = msgspec.UNSET
    minutes: Annotated[int, msgspec.Meta(ge=0, le=1440)] | msgspec.UnsetType = msgspec.UNSET
    description: Note | msgspec.UnsetType = msgspec.UNSET
    child_ids: Annotated[list[Id], msgspec.Meta(max_length=500)] | msgspec.UnsetType = msgspec.UNSET
    other_children: Count | msgspec.UnsetType = msgspec.UNSET
    adults: Count | msgspec.UnsetType = msgspec.UNSET
    volunteers: Count | msgspec.UnsetType = msgspec.UNSET


class PlaceActivityChildOut(msgspec.Struct):
    """A child on file who took part, shown only to those who read the child's file."""

    child_id: int
    name: str


class PlaceActivityCountOut(msgspec.Struct):
    code: str
    label: str
    count: int


class PlaceActivityOut(msgspec.Struct):
    id: int
    place_id: int
    place_name: str
    street_id: int
    community_id: int | None
    held_on: dt.date
    kind: str
    kind_label: str
    title: str
    description: str
    minutes: int
    # children by category (the first category of each child on file; "other" for children not on file)
    children_by_category: list[PlaceActivityCountOut]
    on_file_total: int
    other_children: int
    adults: int
    volunteers: int
    children_total: int
    volunteers_total: int
    # the children on file the caller may read (their names); the rest are counted in ``hidden_children``
    children: list[PlaceActivityChildOut]
    hidden_children: int
    recorded_by: int | None
    created_at: dt.datetime
    editable_until: dt.datetime
    editable: bool


class PlaceActivityList(msgspec.Struct):
    items: list[PlaceActivityOut]
    total: int


class PublicPlaceOut(msgspec.Struct):
    """What anyone may read of a place: no staff, no children."""

    id: int
    kind: str
    kind_label: str
    name: str
    street_name: str
    community_name: str
    address: str
    opening_hours: str
    phone: str
    facilities: list[str]


class PublicPlaceList(msgspec.Struct):
    items: list[PublicPlaceOut]
    total: int


class PlaceUsageKindOut(msgspec.Struct):
    kind: str
    label: str
    activities: int
    participant_times: int
    minutes: int


class PlaceUsageStreetOut(msgspec.Struct):
    street_id: int
    street_name: str
    stations: int
    children_homes: int
    activities: int
    on_file_times: int
    other_children_times: int
    adult_times: int
    volunteer_times: int
    children_reached: int
    children_on_file: int
    reached_share: float
    minutes: int


class PlaceUsageOut(msgspec.Struct):
    year: int
    quarter: int
    from_date: dt.date
    to_date: dt.date
    streets: list[PlaceUsageStreetOut]
    kinds: list[PlaceUsageKindOut]
    total: PlaceUsageStreetOut


Quarter = Literal[1, 2, 3, 4]
