"""Volunteers as people (志愿者): the register, their team memberships, the hours they serve, and the certificates of
hours issued to them (``volunteers.service``).

A volunteer is registered once in the district: the identity number is encrypted (``EncryptedText``) and carries a
lookup hash (``id_number_hash``, unique) so a second registration of the same person is refused. The phone is
encrypted too; the name stays in clear (a list searches it) and is masked for the roles that do not manage the
volunteer (``masking``).

Hours are never edited: a correction is a new row with the opposite minutes that names the row it reverses
(``reverses_id``, unique: a row is reversed once). Hours on a referral keep the referral's id only (not a foreign key:
a purged file's referral goes, the volunteer's hours stay, naming no child). Memberships are history: leaving a team
stamps ``left_on``, the row stays."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.cases.crypto import EncryptedText
from marketplace.db import Base, IdMixin, TimestampMixin, UTCDateTime, utcnow


class Volunteer(IdMixin, TimestampMixin, Base):
    """A registered volunteer."""

    __tablename__ = "volunteers"

    name: Mapped[str] = mapped_column(String(40), index=True)
    id_number: Mapped[str] = mapped_column(EncryptedText("volunteers.id_number"))
    # The cipher's lookup hash of the identity number: one person, one registration.
    id_number_hash: Mapped[str] = mapped_column(String(64), unique=True)
    gender: Mapped[str] = mapped_column(String(10))  # derived from the number's 17th digit
    birth_date: Mapped[dt.date] = mapped_column(Date)  # derived from the number
    # A volunteer of 16 or 17 serves with a guardian's written consent.
    guardian_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    phone: Mapped[str] = mapped_column(EncryptedText("volunteers.phone"), default="")
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"), index=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id"), index=True)
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)  # taxonomy.SKILLS
    availability: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(10), default="active", index=True)  # taxonomy.STATUSES
    registered_on: Mapped[dt.date] = mapped_column(Date)
    registered_by: Mapped[int | None] = mapped_column(Integer)


class Membership(IdMixin, Base):
    """A volunteer's membership of a team, from ``joined_on`` to ``left_on`` (None while a member)."""

    __tablename__ = "volunteers_memberships"
    __table_args__ = (Index("ix_volunteers_memberships_team", "team_id", "left_on"),)

    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("volunteer_teams.id"))
    joined_on: Mapped[dt.date] = mapped_column(Date)
    left_on: Mapped[dt.date | None] = mapped_column(Date)
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Hours(IdMixin, Base):
    """Minutes a volunteer served on a day, at an activity of a place or on a referral (one of the two)."""

    __tablename__ = "volunteers_hours"
    __table_args__ = (Index("ix_volunteers_hours_day", "volunteer_id", "served_on"),)

    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"))
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("place_activities.id"), index=True)
    # The referral served (its id only: see the module's docstring).
    referral_id: Mapped[int | None] = mapped_column(Integer, index=True)
    # Where the hours count: the activity's place's street, or the referral's street.
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"), index=True)
    served_on: Mapped[dt.date] = mapped_column(Date)
    minutes: Mapped[int] = mapped_column(Integer)  # negative on a reversal
    task: Mapped[str] = mapped_column(String(100), default="")
    # The row this one reverses (a correction); a row is reversed at most once.
    reverses_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    logged_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Certificate(IdMixin, Base):
    """A certificate of hours (志愿服务时长证明) for a volunteer and a period, verifiable by its code."""

    __tablename__ = "volunteers_certificates"
    __table_args__ = (Index("ix_volunteers_certificates_period", "volunteer_id", "period_from", "period_to"),)

    number: Mapped[str] = mapped_column(String(30), unique=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"))
    period_from: Mapped[dt.date] = mapped_column(Date)
    period_to: Mapped[dt.date] = mapped_column(Date)
    total_minutes: Mapped[int] = mapped_column(Integer)
    entries: Mapped[int] = mapped_column(Integer, default=0)  # hours rows counted
    issued_on: Mapped[dt.date] = mapped_column(Date)
    issued_by: Mapped[int | None] = mapped_column(Integer)
    # HMAC over the certificate's content with the app's secret key (``service.verification_code``).
    code: Mapped[str] = mapped_column(String(64), unique=True)
    # The certificate that replaced this one (the hours of the period changed), None while current.
    superseded_by_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
