"""Left-behind children's parents away from home, their contacts with the child, their visits home, and the alerts
raised when the contact stops (``families.service``).

A parent's record is never edited in place: a change (a new job in another city, a new phone) is a new version row
that supersedes the old (``replaced_by_id``), so the file keeps where the parent was and how they were reached at
any time. Every version of one parent shares ``lineage_id`` (the first version's id): contacts, visits home and
alerts belong to the lineage and survive a new version. The employer, phone, WeChat and notes are encrypted at rest
(``EncryptedText``, ``cases.crypto``); the province and city stay in clear (a place of work, not of the child)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.cases.crypto import EncryptedText
from marketplace.db import Base, IdMixin, UTCDateTime, utcnow


class ParentAway(IdMixin, Base):
    """One version of a parent (or other guardian) of a child who works away from home."""

    __tablename__ = "families_parents"

    # Scope is the child's (its community and street now: a file may move), read through the child.
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id"), index=True)
    # The first version's id (its own for the first): contacts, visits home and alerts hang on it.
    lineage_id: Mapped[int | None] = mapped_column(Integer, index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    relation: Mapped[str] = mapped_column(String(20))
    # The parent's name as the family calls them (encrypted: it names the household).
    name: Mapped[str] = mapped_column(EncryptedText("families_parents.name"), default="")
    work_province: Mapped[str] = mapped_column(String(40))
    work_city: Mapped[str] = mapped_column(String(60), default="")
    employer: Mapped[str] = mapped_column(EncryptedText("families_parents.employer"), default="")
    job: Mapped[str] = mapped_column(String(60), default="")
    phone: Mapped[str] = mapped_column(EncryptedText("families_parents.phone"), default="")
    wechat: Mapped[str] = mapped_column(EncryptedText("families_parents.wechat"), default="")
    frequency: Mapped[str] = mapped_column(String(20))
    away_since: Mapped[dt.date | None] = mapped_column(Date)
    # The day the parent came back to live with the child: no more contact is expected.
    returned_on: Mapped[dt.date | None] = mapped_column(Date)
    # The day the contact rule starts counting from without any contact: the first version's day, or the day of
    # the version that says the parent left again after a return.
    tracked_from: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(EncryptedText("families_parents.note"), default="")
    # None while this is the current version.
    replaced_by_id: Mapped[int | None] = mapped_column(Integer, index=True)
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ParentContact(IdMixin, Base):
    """One contact between a parent away and the child (a call, a video chat), as the director heard of it."""

    __tablename__ = "families_contacts"
    __table_args__ = (Index("ix_families_contacts_last", "parent_id", "contacted_on"),)

    # The parent's lineage (``ParentAway.lineage_id``).
    parent_id: Mapped[int] = mapped_column(ForeignKey("families_parents.id"))
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id"), index=True)
    contacted_on: Mapped[dt.date] = mapped_column(Date)
    channel: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(EncryptedText("families_contacts.note"), default="")
    recorded_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ParentVisitHome(IdMixin, Base):
    """A parent's stay at home with the child (from - to); counts as contact from its first day to its last."""

    __tablename__ = "families_visits_home"
    __table_args__ = (Index("ix_families_visits_home_last", "parent_id", "to_date"),)

    parent_id: Mapped[int] = mapped_column(ForeignKey("families_parents.id"))
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id"), index=True)
    from_date: Mapped[dt.date] = mapped_column(Date)
    to_date: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(EncryptedText("families_visits_home.note"), default="")
    recorded_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ContactAlert(IdMixin, Base):
    """The contact between a parent and the child stopped: raised by the daily check (``families.contact_check``)
    for one silence (unique per parent and the day the silence began), climbed to the street's supervisor when it
    lasts, resolved by the next contact or visit home recorded."""

    __tablename__ = "families_alerts"
    __table_args__ = (Index("ux_families_alerts_silence", "parent_id", "silent_since", unique=True),)

    parent_id: Mapped[int] = mapped_column(ForeignKey("families_parents.id"))
    # Scope is the child's, read through the child (``families.service.list_alerts``).
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id"), index=True)
    # The last contact (or the record's first day when there was none): the silence's start.
    silent_since: Mapped[dt.date] = mapped_column(Date)
    # The day a contact was due by (frequency + grace after ``silent_since``).
    due_on: Mapped[dt.date] = mapped_column(Date)
    # 1: the community's directors told; 2: the street's supervisors too.
    level: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    escalated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # How it was resolved: "contact" or "visit_home" with that row's id, "returned" (the parent came home, with the
    # version's id), "closed" (the file was closed), "rule" (a new frequency puts the silence within its time).
    resolved_by: Mapped[str] = mapped_column(String(20), default="")
    resolved_entity_id: Mapped[int | None] = mapped_column(Integer)
