"""十防 checks and graded warnings (``safety.service``; the rule in ``safety.rules``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.cases.crypto import EncryptedText
from marketplace.db import Base, IdMixin, UTCDateTime, utcnow


class SafetyCheck(IdMixin, Base):
    """One completed seasonal checklist of one prevention for one child. Never edited once written: a correction
    is a new check that supersedes it. ``current_key`` ("<child>:<prevention>:<season>") is unique while the check
    is the current one of its season and empty once superseded: one current check per child, prevention, season."""

    __tablename__ = "safety_checks"

    child_id: Mapped[int] = mapped_column(ForeignKey("children.id"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"), index=True)
    prevention: Mapped[str] = mapped_column(String(30))
    season: Mapped[str] = mapped_column(String(20), index=True)
    current_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    # item code → done | missed | na (codes: clear); the notes, free text about the child, are sealed.
    answers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    notes: Mapped[str] = mapped_column(EncryptedText("safety_checks.notes"), default="")
    household_note: Mapped[str] = mapped_column(EncryptedText("safety_checks.household_note"), default="")
    missed: Mapped[int] = mapped_column(Integer, default=0)
    checked_on: Mapped[dt.date] = mapped_column(Date)
    checked_by: Mapped[int | None] = mapped_column(Integer)
    supersedes_id: Mapped[int | None] = mapped_column(Integer)
    superseded_by_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SafetyWarning(IdMixin, Base):
    """A child's graded warning (分级预警). ``open_child_id`` is the child's id while the warning is not resolved
    (unique: one open warning per child) and empty once resolved; grade changes, acknowledgements, actions,
    escalations and the resolution are ``SafetyWarningEvent`` rows."""

    __tablename__ = "safety_warnings"

    child_id: Mapped[int] = mapped_column(ForeignKey("children.id"), index=True)
    open_child_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"), index=True)
    grade: Mapped[str] = mapped_column(String(10), index=True)
    points: Mapped[int] = mapped_column(Integer)
    # [{"code", "label", "points"}]: what gave the points (codes and labels from the taxonomy, no free text).
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # open → acknowledged; either → resolved (its causes gone). A raise to a higher grade opens it again.
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    ack_due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by: Mapped[int | None] = mapped_column(Integer)
    escalated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    graded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class SafetyWarningEvent(IdMixin, Base):
    """One line of a warning's history: raised, regraded, acknowledged, action, escalated, note, resolved."""

    __tablename__ = "safety_warning_events"

    warning_id: Mapped[int] = mapped_column(ForeignKey("safety_warnings.id"), index=True)
    child_id: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(20))
    grade: Mapped[str] = mapped_column(String(10))
    from_grade: Mapped[str | None] = mapped_column(String(10))
    points: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str] = mapped_column(EncryptedText("safety_warning_events.note"), default="")
    actor_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
