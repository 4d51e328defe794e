"""Guardianship: assessments under the instrument (``instrument``) and the three arrangements that replace or
support a family's care: entrusted guardianship (委托监护), temporary state guardianship by the rescue centre
(临时监护) and long-term state guardianship (长期监护).

Rows are reached through their child: the child's community and street (which a transfer may change) scope them.
They go with the file: deleting a child (the retention rule, ``cases.retention``, which sits below this feature and
cannot name these tables) deletes them by the foreign keys' ``ON DELETE CASCADE``.
Free text about the child or the household is encrypted at rest (``EncryptedText``), the entrusted person's phone
too; institutions and document numbers are an institution's references and stay in clear."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.cases.crypto import EncryptedText
from marketplace.db import Base, IdMixin, UTCDateTime, utcnow


class GuardianshipAssessment(IdMixin, Base):
    """One assessment (监护评估): immutable once made; the score and result are the server's."""

    __tablename__ = "guardianship_assessments"
    __table_args__ = (CheckConstraint("score BETWEEN 0 AND 100", name="score_range"),)

    child_id: Mapped[int] = mapped_column(ForeignKey("children.id", ondelete="CASCADE"), index=True)
    instrument_code: Mapped[str] = mapped_column(String(20))
    instrument_version: Mapped[int] = mapped_column(Integer)
    answers: Mapped[dict[str, int]] = mapped_column(JSON)
    domain_scores: Mapped[dict[str, int]] = mapped_column(JSON)
    score: Mapped[int] = mapped_column(Integer)
    result: Mapped[str] = mapped_column(String(20))
    recommended: Mapped[str] = mapped_column(String(20))
    assessed_on: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(EncryptedText("guardianship_assessments.note"), default="")
    assessor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class EntrustedGuardianship(IdMixin, Base):
    """A confirmation of entrusted guardianship (委托监护确认书): the parents entrust the child to a named person until
    a review date. A renewal is a new row (``renewed_from_id``); the old one is then ``renewed``."""

    __tablename__ = "entrusted_guardianships"
    __table_args__ = (
        CheckConstraint("status IN ('active','renewed','ended','lapsed')", name="status"),
        Index("ix_entrusted_guardianships_due", "status", "review_on"),
    )

    child_id: Mapped[int] = mapped_column(ForeignKey("children.id", ondelete="CASCADE"), index=True)
    person_name: Mapped[str] = mapped_column(EncryptedText("entrusted_guardianships.person_name"))
    relationship: Mapped[str] = mapped_column(EncryptedText("entrusted_guardianships.relationship"))
    contact_phone: Mapped[str] = mapped_column(EncryptedText("entrusted_guardianships.contact_phone"))
    signed_on: Mapped[dt.date] = mapped_column(Date)
    review_on: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="active")
    note: Mapped[str] = mapped_column(EncryptedText("entrusted_guardianships.note"), default="")
    renewed_from_id: Mapped[int | None] = mapped_column(Integer)
    ended_on: Mapped[dt.date | None] = mapped_column(Date)
    end_reason: Mapped[str] = mapped_column(EncryptedText("entrusted_guardianships.end_reason"), default="")
    lapsed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    closed_by: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class TemporaryGuardianship(IdMixin, Base):
    """Temporary state guardianship (临时监护): the child placed with the rescue centre (未成年人救助保护机构)."""

    __tablename__ = "temporary_guardianships"
    __table_args__ = (CheckConstraint("status IN ('open','ended')", name="status"),)

    child_id: Mapped[int] = mapped_column(ForeignKey("children.id", ondelete="CASCADE"), index=True)
    institution: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str] = mapped_column(EncryptedText("temporary_guardianships.reason"))
    started_on: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    ended_on: Mapped[dt.date | None] = mapped_column(Date)
    outcome: Mapped[str | None] = mapped_column(String(30))
    # The assessment that allowed the child home (made after the start, its result allowing return).
    assessment_id: Mapped[int | None] = mapped_column(ForeignKey("guardianship_assessments.id", ondelete="SET NULL"))
    end_note: Mapped[str] = mapped_column(EncryptedText("temporary_guardianships.end_note"), default="")
    ended_by: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LongTermGuardianship(IdMixin, Base):
    """Long-term state guardianship (长期监护) on a court judgment or a civil-affairs decision."""

    __tablename__ = "long_term_guardianships"

    child_id: Mapped[int] = mapped_column(ForeignKey("children.id", ondelete="CASCADE"), index=True)
    document_no: Mapped[str] = mapped_column(String(80))
    decided_on: Mapped[dt.date] = mapped_column(Date)
    institution: Mapped[str] = mapped_column(String(120))
    started_on: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(EncryptedText("long_term_guardianships.note"), default="")
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
