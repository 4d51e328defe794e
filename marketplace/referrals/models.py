from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.cases.crypto import EncryptedText
from marketplace.db import Base, IdMixin, TimestampMixin, UTCDateTime, utcnow


class Referral(IdMixin, TimestampMixin, Base):
    """A need sent to a provider's service; followed until the child got help and a follow-up visit closed it."""

    __tablename__ = "referrals"
    __table_args__ = (Index("ix_referrals_child_service", "child_id", "service_id"),)

    need_id: Mapped[int] = mapped_column(ForeignKey("needs.id"), index=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id"), index=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="sent", index=True)
    share_note: Mapped[str] = mapped_column(EncryptedText("referrals.share_note"), default="")
    consent_override_reason: Mapped[str | None] = mapped_column(EncryptedText("referrals.consent_override_reason"))
    consent_override_by: Mapped[int | None] = mapped_column(Integer)
    social_worker_id: Mapped[int | None] = mapped_column(ForeignKey("social_workers.id"), index=True)
    plan: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    score: Mapped[float | None] = mapped_column()
    sent_by: Mapped[int | None] = mapped_column(Integer)
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # The district month whose capacity the acceptance took, so a release returns it to the same month.
    booked_month: Mapped[str | None] = mapped_column(String(7))
    declined_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    decline_reason: Mapped[str | None] = mapped_column(EncryptedText("referrals.decline_reason"))
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # The provider's proposal (``OUTCOMES``) ...
    outcome: Mapped[str | None] = mapped_column(String(30), index=True)
    outcome_note: Mapped[str | None] = mapped_column(EncryptedText("referrals.outcome_note"))
    # ... and the caseworker's verdict at the close (``VERDICTS``), after a follow-up visit: what everything shows.
    verdict: Mapped[str | None] = mapped_column(String(20), index=True)
    verdict_note: Mapped[str | None] = mapped_column(EncryptedText("referrals.verdict_note"))
    verdict_by: Mapped[int | None] = mapped_column(Integer)
    follow_up_visit_id: Mapped[int | None] = mapped_column(Integer)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    revoke_reason: Mapped[str | None] = mapped_column(EncryptedText("referrals.revoke_reason"))
    # The last step of the escalation ladder reached (0 none, 1 director, 2 supervisor, 3 district) and when.
    escalation_level: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    escalated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), index=True)
    # The contact fields of the file the director chose to share with the provider (``SHAREABLE_CONTACT``); the
    # provider reads them while it holds the referral (accepted … completed), never before or after.
    shared_fields: Mapped[list[str]] = mapped_column(JSON, default=list)


class ReferralLog(IdMixin, Base):
    """A service delivery log entry written by the provider (服务记录)."""

    __tablename__ = "referral_logs"

    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id"), index=True)
    delivered_on: Mapped[dt.date] = mapped_column(Date)
    minutes: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str] = mapped_column(EncryptedText("referral_logs.note"))
    author_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
