"""Notifications outside the app: each person's preferences, and one delivery row per notification and channel."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, IdMixin, UTCDateTime, utcnow


class NotificationPreference(IdMixin, Base):
    """How one person wants to hear of their notifications outside the app.

    ``email_groups`` / ``sms_groups``: ``off``, ``urgent`` (urgent only), ``reminders`` (urgent and reminders) or
    ``all``. ``*_since``: when the channel was last turned on; only notifications written after it are sent (no flood
    of old ones). Quiet hours in the district's local time; both empty: none."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    email_groups: Mapped[str] = mapped_column(String(12), default="off")
    sms_groups: Mapped[str] = mapped_column(String(12), default="off")
    email: Mapped[str] = mapped_column(String(254), default="")
    mobile: Mapped[str] = mapped_column(String(11), default="")
    quiet_start: Mapped[dt.time | None] = mapped_column(Time())
    quiet_end: Mapped[dt.time | None] = mapped_column(Time())
    email_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    sms_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Delivery(IdMixin, Base):
    """One notification sent (or being sent, held, failed) on one channel. Unique per (notification, channel): a
    job run twice, or two workers at once, insert it once; the one that moves it to ``sending`` sends it."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        UniqueConstraint("notification_id", "channel"),
        Index("ix_notification_deliveries_due", "status", "next_attempt_at"),
    )

    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    channel: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(40))
    urgent: Mapped[bool] = mapped_column(default=False)
    # pending (to send at next_attempt_at), held (quiet hours, until next_attempt_at), sending (claimed until
    # claimed_until), sent, failed (permanent, or attempts exhausted)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    receipt: Mapped[str] = mapped_column(String(120), default="")
    # A short code and the provider's reason, never the message.
    error: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
