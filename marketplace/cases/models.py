from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Connection,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    event,
    inspect,
)
from sqlalchemy.orm import Mapped, mapped_column

from marketplace import clock
from marketplace.cases.crypto import EncryptedText, dialect_cipher
from marketplace.db import Base, IdMixin, TimestampMixin, UTCDateTime, utcnow


class Child(IdMixin, TimestampMixin, Base):
    """One child's file (一人一档), kept by the community's child director."""

    __tablename__ = "children"
    __table_args__ = (
        # Duplicate detection (same name, same birth date, same community) through the name's blind index.
        Index("ix_children_dup", "community_id", "name_hmac", "birth_date"),
        CheckConstraint("risk_level IN ('critical','high','medium','low')", name="risk_level"),
    )

    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    # Copied from the community so street-scoped queries need no join (communities never change street).
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"), index=True)
    # The words that describe the child or the household are encrypted at rest (cases.crypto: the list).
    name: Mapped[str] = mapped_column(EncryptedText("children.name"))
    # The blind index of the normalised name (``FieldCipher.name_hash``), kept by this module's mapper events.
    name_hmac: Mapped[str] = mapped_column(String(64), default="")
    gender: Mapped[str] = mapped_column(String(10))
    birth_date: Mapped[dt.date] = mapped_column(Date)
    id_number_enc: Mapped[str] = mapped_column(Text)
    id_number_hmac: Mapped[str] = mapped_column(String(64), index=True)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    guardianship: Mapped[str] = mapped_column(String(20))
    risk_level: Mapped[str] = mapped_column(String(10), index=True)
    school: Mapped[str] = mapped_column(EncryptedText("children.school"), default="")
    household_notes: Mapped[str] = mapped_column(EncryptedText("children.household_notes"), default="")
    guardian_name: Mapped[str] = mapped_column(EncryptedText("children.guardian_name"), default="")
    guardian_relation: Mapped[str] = mapped_column(EncryptedText("children.guardian_relation"), default="")
    guardian_phone_enc: Mapped[str | None] = mapped_column(Text)
    address_enc: Mapped[str | None] = mapped_column(Text)
    consent_to_share: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_recorded_on: Mapped[dt.date | None] = mapped_column(Date)
    # What the director chose to tell providers; organizations see this and nothing else of the file.
    share_note: Mapped[str] = mapped_column(EncryptedText("children.share_note"), default="")
    last_visit_on: Mapped[dt.date | None] = mapped_column(Date)
    next_visit_due: Mapped[dt.date] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(20), default="active", index=True)
    # When the file was closed (kept by this module's mapper events; cleared if it is reopened): the retention rule
    # (``cases.retention``) deletes a file a set number of years after it.
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), index=True)
    created_by: Mapped[int | None] = mapped_column(Integer)


class Need(IdMixin, TimestampMixin, Base):
    __tablename__ = "needs"
    __table_args__ = (CheckConstraint("urgency BETWEEN 1 AND 4", name="urgency_range"),)

    child_id: Mapped[int] = mapped_column(ForeignKey("children.id"), index=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    category: Mapped[str] = mapped_column(String(40), index=True)
    urgency: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(EncryptedText("needs.note"), default="")
    # The need lifecycle (``cases.lifecycle.NEED_LIFECYCLE``): open → matched → in_service → met | partly_met |
    # not_met, or withdrawn. Only the lifecycle's transitions change it; the director's verdict settles it.
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    report_id: Mapped[int | None] = mapped_column(Integer)
    met_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # When and by whom the need was settled (a verdict, or withdrawn); cleared if it is reopened.
    settled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    settled_by: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[int | None] = mapped_column(Integer)


class Visit(IdMixin, Base):
    __tablename__ = "visits"

    child_id: Mapped[int] = mapped_column(ForeignKey("children.id"), index=True)
    visited_on: Mapped[dt.date] = mapped_column(Date, index=True)
    kind: Mapped[str] = mapped_column(String(20))
    findings: Mapped[str] = mapped_column(EncryptedText("visits.findings"), default="")
    next_visit_due: Mapped[dt.date] = mapped_column(Date)
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MandatoryReport(IdMixin, Base):
    """A mandatory report (强制报告): the child is alone, missing, without a guardian or maybe harmed.

    A record, not a message: who reported what and when, the police notification, the emergency steps taken
    (``MandatoryReportStep``) and the supervisor's and the district's acknowledgements, each due within hours.
    A report may be made for a child without a file (a street child, an unknown child: a name or description and
    a place); it is linked to a file later, and its emergency need is opened then."""

    __tablename__ = "mandatory_reports"

    # None until the report is linked to a file (an unidentified child).
    child_id: Mapped[int | None] = mapped_column(ForeignKey("children.id"), index=True)
    # Where the report belongs (the child's community, or the reporter's for an unidentified child): its scope.
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    description: Mapped[str] = mapped_column(EncryptedText("mandatory_reports.description"))
    # For an unidentified child: what is known of them, and where they were found.
    subject_name: Mapped[str] = mapped_column(EncryptedText("mandatory_reports.subject_name"), default="")
    subject_description: Mapped[str] = mapped_column(EncryptedText("mandatory_reports.subject_description"), default="")
    place: Mapped[str] = mapped_column(EncryptedText("mandatory_reports.place"), default="")
    occurred_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # open → acknowledged (by the supervisor and the district) → closed
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    police_notified: Mapped[bool] = mapped_column(Boolean, default=False)
    police_notified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    police_station: Mapped[str | None] = mapped_column(String(120))
    police_receipt_no: Mapped[str | None] = mapped_column(String(60))
    police_recorded_by: Mapped[int | None] = mapped_column(Integer)
    need_id: Mapped[int | None] = mapped_column(Integer)
    reported_by: Mapped[int | None] = mapped_column(Integer)
    reporter_role: Mapped[str] = mapped_column(String(30), default="")
    # Acknowledgements: each level's deadline is set when the report is made (``Deadlines.report_ack_hours``).
    supervisor_ack_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), index=True)
    supervisor_ack_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    supervisor_ack_by: Mapped[int | None] = mapped_column(Integer)
    district_ack_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), index=True)
    district_ack_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    district_ack_by: Mapped[int | None] = mapped_column(Integer)
    linked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    linked_by: Mapped[int | None] = mapped_column(Integer)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class MandatoryReportStep(IdMixin, Base):
    """One emergency handling step of a mandatory report (应急处置): police called, child placed, guardian found."""

    __tablename__ = "mandatory_report_steps"

    report_id: Mapped[int] = mapped_column(ForeignKey("mandatory_reports.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    taken_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(EncryptedText("mandatory_report_steps.note"), default="")
    recorded_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ChildTransfer(IdMixin, Base):
    """A request to move a child's file to another community (one person, one file): the requesting director asks,
    the holding community's director or its street's supervisor decides."""

    __tablename__ = "child_transfers"

    child_id: Mapped[int] = mapped_column(ForeignKey("children.id"), index=True)
    from_community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    to_community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    # pending → approved | rejected | cancelled
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    reason: Mapped[str] = mapped_column(EncryptedText("child_transfers.reason"))
    requested_by: Mapped[int | None] = mapped_column(Integer)
    decided_by: Mapped[int | None] = mapped_column(Integer)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    decision_note: Mapped[str] = mapped_column(EncryptedText("child_transfers.decision_note"), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class Escalation(IdMixin, Base):
    """One step up the escalation ladder (director → supervisor → district) of something overdue: a referral not
    answered or not started in time, a visit past due, a mandatory report not acknowledged. One row per step, so a
    job run twice adds none and the timeline can show who was told when."""

    __tablename__ = "escalations"
    __table_args__ = (Index("ux_escalations_step", "entity", "entity_id", "kind", "level", unique=True),)

    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int] = mapped_column(Integer)
    # accept | first_contact | visit | report_ack
    kind: Mapped[str] = mapped_column(String(30))
    # 1 = the child's director, 2 = the street's supervisor, 3 = the district
    level: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    child_id: Mapped[int | None] = mapped_column(Integer, index=True)
    recipients: Mapped[list[int]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class EscalationAction(IdMixin, Base):
    """What a supervisor (or the district) did about an escalation step (``cases.escalation``): acknowledged it with
    what happens next, reminded the one responsible, or reassigned an overdue visit to another director."""

    __tablename__ = "escalation_actions"

    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalations.id"), index=True)
    # acknowledge | remind | reassign
    action: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(EncryptedText("escalation_actions.note"), default="")
    actor_id: Mapped[int | None] = mapped_column(Integer)
    # reassign: the director the visit now falls to
    target_id: Mapped[int | None] = mapped_column(Integer)
    # who was reminded, the transfer a reassignment made
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Notification(IdMixin, Base):
    """A message to one user (a supervisor, the district, an organization); written by outbox handlers and jobs."""

    __tablename__ = "notifications"
    # The navigation's unread count on every console page: one range of this index.
    __table_args__ = (Index("ix_notifications_unread", "recipient_id", "read_at"),)

    # Makes delivery idempotent: a handler run twice finds its rows and adds none.
    key: Mapped[str] = mapped_column(String(160), unique=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    # Encrypted: a reminder names the child ("督办提醒：<name>走访逾期") and a transfer request gives its reason.
    title: Mapped[str] = mapped_column(EncryptedText("notifications.title"))
    body: Mapped[str] = mapped_column(EncryptedText("notifications.body"), default="")
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


@event.listens_for(Child, "before_insert")
@event.listens_for(Child, "before_update")
def _index_name(mapper: Any, connection: Connection, child: Child) -> None:
    """Keep ``name_hmac`` the blind index of the name as written (any writer: services, demo, tests)."""
    if child.name is not None and (not child.name_hmac or inspect(child).attrs.name.history.has_changes()):
        child.name_hmac = dialect_cipher(connection.dialect).name_hash(child.name)


@event.listens_for(Child, "before_insert")
@event.listens_for(Child, "before_update")
def _stamp_closing(mapper: Any, connection: Connection, child: Child) -> None:
    """Keep ``closed_at`` the instant the file was closed (any writer), and empty while it is active."""
    state = inspect(child)
    if child.status == "closed":
        if child.closed_at is not None and state.attrs.closed_at.history.has_changes():
            return  # a writer that knows when the file was closed (a migration of old files, a test) said so
        before = state.attrs.status.history.deleted
        if child.closed_at is None or (before and before[0] != "closed"):
            child.closed_at = clock.now()
    elif child.closed_at is not None:
        child.closed_at = None


from marketplace.cases.eligibility_models import AllowanceDecision as AllowanceDecision  # noqa: E402
from marketplace.cases.eligibility_models import AllowancePayee as AllowancePayee  # noqa: E402
