"""Places, their staff on duty, and the activities held there (``places.service``).

A place is a street's minor-protection work station (``station``: one per street, ``community_id`` empty) or a
community's children's home (``children_home``). An activity records who took part by category counts; the
children who took part are listed in ``place_activity_children`` (read only inside the scope of their files, never
published: the public figures are the counts). Volunteers' hours at an activity are the volunteers feature's
(``volunteers_hours.activity_id``)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, IdMixin, TimestampMixin, UTCDateTime, utcnow


class Place(IdMixin, TimestampMixin, Base):
    """A work station or a children's home."""

    __tablename__ = "places"
    __table_args__ = (UniqueConstraint("street_id", "name"),)

    kind: Mapped[str] = mapped_column(String(20), index=True)  # station | children_home
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"), index=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300), default="")
    # e.g. "周一至周五 9:00-17:30；周六 9:00-12:00"
    opening_hours: Mapped[str] = mapped_column(String(300), default="")
    # facility codes (taxonomy.FACILITIES): reading corner, activity room, counselling room...
    facilities: Mapped[list[str]] = mapped_column(JSON, default=list)
    area_m2: Mapped[int | None] = mapped_column(Integer)
    phone: Mapped[str] = mapped_column(String(40), default="")
    opened_on: Mapped[dt.date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str] = mapped_column(Text, default="")


class PlaceStaff(IdMixin, Base):
    """A person on duty at a place: an account (a director, a supervisor, a social worker) or a named person."""

    __tablename__ = "place_staff"

    place_id: Mapped[int] = mapped_column(ForeignKey("places.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    role: Mapped[str] = mapped_column(String(40))  # taxonomy.STAFF_ROLES
    duty: Mapped[str] = mapped_column(String(200), default="")  # when on duty, e.g. "周二、周四下午"
    phone: Mapped[str] = mapped_column(String(40), default="")
    since: Mapped[dt.date | None] = mapped_column(Date)
    until: Mapped[dt.date | None] = mapped_column(Date)  # None while on duty


class Activity(IdMixin, Base):
    """An activity held at a place: its date, kind, and who took part (counts by category)."""

    __tablename__ = "place_activities"

    place_id: Mapped[int] = mapped_column(ForeignKey("places.id"), index=True)
    held_on: Mapped[dt.date] = mapped_column(Date, index=True)
    kind: Mapped[str] = mapped_column(String(40))  # taxonomy.ACTIVITY_KINDS
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    minutes: Mapped[int] = mapped_column(Integer, default=0)  # how long it lasted
    # participants counted by category: {"children": {"orphan": 2, "left_behind": 5, "other": 12}, "adults": 6}
    counts: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    children_total: Mapped[int] = mapped_column(Integer, default=0)
    volunteers_total: Mapped[int] = mapped_column(Integer, default=0)
    recorded_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ActivityChild(IdMixin, Base):
    """A child on file who took part in an activity (shown only inside the scope of the child's file)."""

    __tablename__ = "place_activity_children"
    __table_args__ = (UniqueConstraint("activity_id", "child_id"),)

    activity_id: Mapped[int] = mapped_column(ForeignKey("place_activities.id"), index=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id"), index=True)
