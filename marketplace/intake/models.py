"""Hotline calls and public reports taken in (来电与群众反映登记), and their triage."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.cases.crypto import EncryptedText
from marketplace.db import Base, IdMixin, UTCDateTime, utcnow


class Intake(IdMixin, Base):
    """A call or a report about a child: who called (or that they would not say), what happened, where, about which
    child (a file in the recorder's scope, or what is known of an unidentified child), routed to the community's
    directors with a deadline by urgency. The words about the child and the caller are encrypted at rest."""

    __tablename__ = "intakes"
    __table_args__ = (
        CheckConstraint("urgency BETWEEN 1 AND 4", name="urgency_range"),
        # The job's question (untriaged past the deadline, not yet escalated) and the list's order.
        Index("ix_intakes_status_due", "status", "due_at"),
    )

    channel: Mapped[str] = mapped_column(String(30), index=True)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    received_by: Mapped[int | None] = mapped_column(Integer)
    recorder_role: Mapped[str] = mapped_column(String(30), default="")
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    caller_name: Mapped[str] = mapped_column(EncryptedText("intakes.caller_name"), default="")
    caller_phone: Mapped[str] = mapped_column(EncryptedText("intakes.caller_phone"), default="")
    caller_relation: Mapped[str] = mapped_column(EncryptedText("intakes.caller_relation"), default="")
    what: Mapped[str] = mapped_column(EncryptedText("intakes.what"))
    place: Mapped[str] = mapped_column(EncryptedText("intakes.place"), default="")
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"), index=True)
    urgency: Mapped[int] = mapped_column(Integer)
    # The child's file: given when the call is about a filed child, or set by the triage that opens or links one.
    child_id: Mapped[int | None] = mapped_column(ForeignKey("children.id"), index=True)
    subject_name: Mapped[str] = mapped_column(EncryptedText("intakes.subject_name"), default="")
    subject_description: Mapped[str] = mapped_column(EncryptedText("intakes.subject_description"), default="")
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # new → triaged (once; a follow-up may link the report it made to a file)
    status: Mapped[str] = mapped_column(String(20), default="new")
    outcome: Mapped[str | None] = mapped_column(String(30))
    triaged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    triaged_by: Mapped[int | None] = mapped_column(Integer)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("mandatory_reports.id"), index=True)
    need_id: Mapped[int | None] = mapped_column(Integer)
    # When the ``intake.overdue`` job told the street's supervisors (once).
    escalated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class IntakeTriage(IdMixin, Base):
    """One triage of an intake, as it was decided: a record, never edited."""

    __tablename__ = "intake_triages"

    intake_id: Mapped[int] = mapped_column(ForeignKey("intakes.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str] = mapped_column(EncryptedText("intake_triages.reason"), default="")
    report_id: Mapped[int | None] = mapped_column(Integer)
    need_id: Mapped[int | None] = mapped_column(Integer)
    child_id: Mapped[int | None] = mapped_column(Integer)
    triaged_by: Mapped[int | None] = mapped_column(Integer)
    triager_role: Mapped[str] = mapped_column(String(30), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
