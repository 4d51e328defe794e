"""Directors' and supervisors' training, certificates and yearly assessments (``workforce.service``).

An assessment row is never changed once confirmed: a correction is a new row (``revision`` + 1) naming the one it
supersedes and why; the person's assessment of a year is the row with the highest revision."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, IdMixin, UTCDateTime, utcnow


class Course(IdMixin, Base):
    """A training course, organised by the district (``street_id`` empty) or a street."""

    __tablename__ = "workforce_courses"

    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(30), index=True)  # taxonomy.TRAINING_KINDS
    organizer: Mapped[str] = mapped_column(String(200))
    starts_on: Mapped[dt.date] = mapped_column(Date, index=True)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    hours: Mapped[float] = mapped_column(Float)
    place: Mapped[str] = mapped_column(String(300), default="")
    street_id: Mapped[int | None] = mapped_column(ForeignKey("streets.id"), index=True)
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Attendance(IdMixin, Base):
    """A person's attendance of a course: the hours attended and whether they passed."""

    __tablename__ = "workforce_attendance"
    __table_args__ = (UniqueConstraint("course_id", "user_id"),)

    course_id: Mapped[int] = mapped_column(ForeignKey("workforce_courses.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    hours: Mapped[float] = mapped_column(Float)
    passed: Mapped[bool] = mapped_column(Boolean, default=True)
    recorded_by: Mapped[int | None] = mapped_column(Integer)
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Certificate(IdMixin, Base):
    """A certificate a person holds (kind, number, validity, issuing body)."""

    __tablename__ = "workforce_certificates"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # taxonomy.CERTIFICATE_KINDS
    number: Mapped[str] = mapped_column(String(60))
    issued_on: Mapped[dt.date] = mapped_column(Date)
    expires_on: Mapped[dt.date | None] = mapped_column(Date, index=True)  # None: no expiry
    issuer: Mapped[str] = mapped_column(String(200))
    # Set by the daily job (``workforce.certificates``) once the certificate has expired.
    expired_flagged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Assessment(IdMixin, Base):
    """One person's yearly assessment (述职考核): open → self_reported → scored → confirmed.

    ``indicators`` holds each indicator's inputs and score ({code: {"numerator", "denominator", "score", ...}}),
    recomputed from the records at every step until the district confirms; then it, ``result`` and ``grade`` are
    the snapshot that never changes."""

    __tablename__ = "workforce_assessments"
    __table_args__ = (UniqueConstraint("user_id", "year", "revision"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    # The person's role and scope when the assessment was opened (what the indicators are computed over).
    role: Mapped[str] = mapped_column(String(40))
    street_id: Mapped[int | None] = mapped_column(ForeignKey("streets.id"), index=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    indicators: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    computed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    self_report: Mapped[str] = mapped_column(Text, default="")
    claims: Mapped[list[str]] = mapped_column(JSON, default=list)
    self_reported_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    reviewer_score: Mapped[int | None] = mapped_column(Integer)
    reviewer_comment: Mapped[str] = mapped_column(Text, default="")
    scored_by: Mapped[int | None] = mapped_column(Integer)
    scored_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    result: Mapped[float | None] = mapped_column(Float)
    grade: Mapped[str | None] = mapped_column(String(20), index=True)
    veto_reason: Mapped[str] = mapped_column(Text, default="")
    confirmed_by: Mapped[int | None] = mapped_column(Integer)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    supersedes_id: Mapped[int | None] = mapped_column(Integer)
    correction_reason: Mapped[str] = mapped_column(Text, default="")
    opened_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
