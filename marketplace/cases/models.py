from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, IdMixin, TimestampMixin, UTCDateTime, utcnow


class Child(IdMixin, TimestampMixin, Base):
    """One child's file (一人一档), kept by the community's child director."""

    __tablename__ = "children"
    __table_args__ = (
        Index("ix_children_dup", "community_id", "name", "birth_date"),
        CheckConstraint("risk_level IN ('critical','high','medium','low')", name="risk_level"),
    )

    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    # Copied from the community so street-scoped queries need no join (communities never change street).
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    gender: Mapped[str] = mapped_column(String(10))
    birth_date: Mapped[dt.date] = mapped_column(Date)
    id_number_enc: Mapped[str] = mapped_column(Text)
    id_number_hmac: Mapped[str] = mapped_column(String(64), index=True)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    guardianship: Mapped[str] = mapped_column(String(20))
    risk_level: Mapped[str] = mapped_column(String(10), index=True)
    school: Mapped[str] = mapped_column(String(200), default="")
    household_notes: Mapped[str] = mapped_column(Text, default="")
    guardian_name: Mapped[str] = mapped_column(String(120), default="")
    guardian_relation: Mapped[str] = mapped_column(String(40), default="")
    guardian_phone_enc: Mapped[str | None] = mapped_column(Text)
    address_enc: Mapped[str | None] = mapped_column(Text)
    consent_to_share: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_recorded_on: Mapped[dt.date | None] = mapped_column(Date)
    # What the director chose to tell providers; organizations see this and nothing else of the file.
    share_note: Mapped[str] = mapped_column(Text, default="")
    last_visit_on: Mapped[dt.date | None] = mapped_column(Date)
    next_visit_due: Mapped[dt.date] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(20), default="active", index=True)
    created_by: Mapped[int | None] = mapped_column(Integer)


class Need(IdMixin, TimestampMixin, Base):
    __tablename__ = "needs"
    __table_args__ = (CheckConstraint("urgency BETWEEN 1 AND 4", name="urgency_range"),)

    child_id: Mapped[int] = mapped_column(ForeignKey("children.id"), index=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    category: Mapped[str] = mapped_column(String(40), index=True)
    urgency: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    report_id: Mapped[int | None] = mapped_column(Integer)
    met_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[int | None] = mapped_column(Integer)


class Visit(IdMixin, Base):
    __tablename__ = "visits"

    child_id: Mapped[int] = mapped_column(ForeignKey("children.id"), index=True)
    visited_on: Mapped[dt.date] = mapped_column(Date, index=True)
    kind: Mapped[str] = mapped_column(String(20))
    findings: Mapped[str] = mapped_column(Text, default="")
    next_visit_due: Mapped[dt.date] = mapped_column(Date)
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MandatoryReport(IdMixin, Base):
    """A mandatory report (强制报告): the child is alone, missing, without a guardian or maybe harmed."""

    __tablename__ = "mandatory_reports"

    child_id: Mapped[int] = mapped_column(ForeignKey("children.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    description: Mapped[str] = mapped_column(Text)
    police_notified: Mapped[bool] = mapped_column(Boolean, default=False)
    need_id: Mapped[int | None] = mapped_column(Integer)
    reported_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Notification(IdMixin, Base):
    """A message to one user (a supervisor, the district, an organization); written by outbox handlers and jobs."""

    __tablename__ = "notifications"

    # Makes delivery idempotent: a handler run twice finds its rows and adds none.
    key: Mapped[str] = mapped_column(String(160), unique=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
